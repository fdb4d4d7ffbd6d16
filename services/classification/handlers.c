/* Event handlers: a received complaint is classified, stored and announced, and its first
 * response is handed to follow-up, all in the consumer's batch transaction. */
#include <stdio.h>
#include <string.h>

#include "classification.h"
#include "classification.pb-c.h"
#include "outbox.h"
#include "pg.h"
#include "topics.h"
#include "tstamp.h"

static int validate_received(const ProtobufCMessage *m, char *errstr, size_t errlen)
{
	const Cp__ComplaintReceived *c = (const void *)m;
	if (strlen(c->complaint_id) != 36 || !c->complaint_no[0] || !c->waybill_no[0]) {
		snprintf(errstr, errlen, "complaint_id, complaint_no and waybill_no are required");
		return -1;
	}
	return 0;
}

static int store(PGconn *pg, const Cp__ComplaintReceived *c, const struct classify_result *r)
{
	static const char *const types[] = {"unspecified", "damage", "delay", "loss", "other"};
	char prio[8];
	snprintf(prio, sizeof(prio), "%d", r->priority);
	const char *p[] = {c->complaint_id, c->complaint_no, c->waybill_no, c->customer_ref,
			   r->category,     r->subcategory,  types[c->type % 5], r->reason,
			   r->urgency,      r->severity,     r->tier,	    prio,
			   "default",	    c->language};
	return pg_exec(pg,
		       "INSERT INTO classifications (complaint_id, complaint_no, waybill_no, "
		       "customer_ref, category, subcategory, stated_type, choice_reason, urgency, "
		       "severity, tier, priority, sla_policy, language) VALUES ($1,$2,$3,$4,$5,$6,"
		       "$7,$8,$9,$10,$11,$12,$13,$14) ON CONFLICT (complaint_id) DO NOTHING",
		       14, p);
}

static int announce(PGconn *pg, const Cp__ComplaintReceived *c, const struct classify_result *r)
{
	Cp__ComplaintClassified ev = CP__COMPLAINT_CLASSIFIED__INIT;
	char now[TSTAMP_LEN];
	tstamp_format(tstamp_now_ms(), now);
	ev.complaint_id = c->complaint_id;
	ev.complaint_no = c->complaint_no;
	ev.waybill_no = c->waybill_no;
	ev.category = (char *)r->category;
	ev.subcategory = (char *)r->subcategory;
	ev.stated_type = c->type;
	ev.choice_reason = (char *)r->reason;
	ev.urgency = (char *)r->urgency;
	ev.severity = (char *)r->severity;
	ev.tier = (char *)r->tier;
	ev.priority = r->priority;
	ev.sla_policy = "default";
	ev.first_response_s = (int32_t)classification_cfg.first_response_s;
	ev.verification_s = (int32_t)classification_cfg.verification_s;
	ev.resolution_s = (int32_t)classification_cfg.resolution_s;
	ev.regulatory_s = (int32_t)classification_cfg.regulatory_s;
	ev.language = c->language;
	ev.customer_ref = c->customer_ref;
	ev.classified_at = now;
	ev.n_demand = c->n_demand;
	ev.demand = c->demand;
	ev.impact = c->impact;
	ev.channel = c->channel;
	ev.repeat = c->repeat;
	return outbox_add(pg, TOPIC_CLASSIFIED, c->complaint_id, "cp.complaint.classified",
			  &ev.base, NULL);
}

static int first_response(PGconn *pg, const Cp__ComplaintReceived *c,
			  const struct classify_result *r)
{
	Cp__FirstResponse ev = CP__FIRST_RESPONSE__INIT;
	char now[TSTAMP_LEN], next[TSTAMP_LEN], text[1024];
	int64_t ms = tstamp_now_ms();
	tstamp_format(ms, now);
	tstamp_format(ms + classification_cfg.next_update_s * 1000, next);
	classify_first_response(r->scenario, c->language, c->complaint_no, c->waybill_no, next,
				text, sizeof(text));
	ev.complaint_id = c->complaint_id;
	ev.complaint_no = c->complaint_no;
	ev.scenario = (char *)r->scenario;
	ev.language = c->language;
	ev.text = text;
	ev.next_update_by = next;
	ev.at = now;
	return outbox_add(pg, TOPIC_CLASSIFIED, c->complaint_id, "cp.complaint.first_response",
			  &ev.base, NULL);
}

static int on_received(PGconn *pg, const struct ce_meta *ce, const char *key,
		       const ProtobufCMessage *m, char *errstr, size_t errlen, void *arg)
{
	const Cp__ComplaintReceived *c = (const void *)m;
	struct classify_result r;
	classify_complaint(c, &r);
	if (store(pg, c, &r) != 0 || announce(pg, c, &r) != 0)
		return -1;
	return first_response(pg, c, &r);
}

const struct consumer_handler classification_handlers[] = {
    {TOPIC_RECEIVED, "cp.complaint.received", &cp__complaint_received__descriptor,
     validate_received, on_received},
};
const size_t classification_nhandlers =
    sizeof(classification_handlers) / sizeof(classification_handlers[0]);
