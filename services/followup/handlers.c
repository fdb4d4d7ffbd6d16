/* Event handlers: every step the customer must hear about becomes one notification (at
 * most one per step) and a customer_notified event. */
#include <stdio.h>
#include <string.h>

#include "classification.pb-c.h"
#include "followup.h"
#include "followup.pb-c.h"
#include "outbox.h"
#include "pg.h"
#include "resolution.pb-c.h"
#include "topics.h"
#include "tstamp.h"

static int notify(PGconn *pg, const char *complaint_id, const char *complaint_no,
		  const char *step, const char *language, const char *body)
{
	const char *p[] = {complaint_id, complaint_no, step, language, body};
	PGresult *r = pg_query(pg,
			       "INSERT INTO notifications (complaint_id, complaint_no, step, "
			       "language, body) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
			       5, p);
	if (!r)
		return -1;
	bool fresh = strcmp(PQcmdTuples(r), "1") == 0;
	PQclear(r);
	if (!fresh)
		return 0;
	Cp__FollowupEvent ev = CP__FOLLOWUP_EVENT__INIT;
	char now[TSTAMP_LEN];
	tstamp_format(tstamp_now_ms(), now);
	ev.complaint_id = (char *)complaint_id;
	ev.complaint_no = (char *)complaint_no;
	ev.step = (char *)step;
	ev.channel = "file";
	ev.status = "queued";
	ev.at = now;
	ev.language = (char *)language;
	return outbox_add(pg, TOPIC_FOLLOWUP, complaint_id, "cp.complaint.customer_notified",
			  &ev.base, NULL);
}

static int validate_id(const char *id, char *errstr, size_t errlen)
{
	if (strlen(id) == 36)
		return 0;
	snprintf(errstr, errlen, "complaint_id must be a UUID");
	return -1;
}

static int v_first(const ProtobufCMessage *m, char *e, size_t n)
{
	return validate_id(((const Cp__FirstResponse *)m)->complaint_id, e, n);
}

static int on_first(PGconn *pg, const struct ce_meta *ce, const char *key,
		    const ProtobufCMessage *m, char *errstr, size_t errlen, void *arg)
{
	const Cp__FirstResponse *f = (const void *)m;
	return notify(pg, f->complaint_id, f->complaint_no, "first_response", f->language,
		      f->text);
}

static int v_resolution(const ProtobufCMessage *m, char *e, size_t n)
{
	return validate_id(((const Cp__ResolutionDecided *)m)->complaint_id, e, n);
}

static int on_resolution(PGconn *pg, const struct ce_meta *ce, const char *key,
			 const ProtobufCMessage *m, char *errstr, size_t errlen, void *arg)
{
	const Cp__ResolutionDecided *d = (const void *)m;
	if (strcmp(d->status, "proposed") != 0)
		return 0;
	return notify(pg, d->complaint_id, d->complaint_no, "plan_proposed",
		      d->language[0] ? d->language : "zh-CN", "a remedy was proposed");
}

const struct consumer_handler followup_handlers[] = {
    {TOPIC_CLASSIFIED, "cp.complaint.first_response", &cp__first_response__descriptor, v_first,
     on_first},
    {TOPIC_RESOLUTION, "cp.complaint.resolution_proposed", &cp__resolution_decided__descriptor,
     v_resolution, on_resolution},
};
const size_t followup_nhandlers = sizeof(followup_handlers) / sizeof(followup_handlers[0]);
