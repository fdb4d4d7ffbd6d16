/* Event handlers: verified evidence leads to a remedy proposal, stored and announced. */
#include <stdio.h>
#include <string.h>

#include "evidence.pb-c.h"
#include "ids.h"
#include "outbox.h"
#include "pg.h"
#include "resolution.h"
#include "resolution.pb-c.h"
#include "topics.h"
#include "tstamp.h"

static int validate_evidence(const ProtobufCMessage *m, char *errstr, size_t errlen)
{
	const Cp__EvidenceBundle *b = (const void *)m;
	if (strlen(b->complaint_id) != 36) {
		snprintf(errstr, errlen, "complaint_id must be a UUID");
		return -1;
	}
	return 0;
}

static int on_evidence(PGconn *pg, const struct ce_meta *ce, const char *key,
		       const ProtobufCMessage *m, char *errstr, size_t errlen, void *arg)
{
	const Cp__EvidenceBundle *b = (const void *)m;
	char id[IDS_UUID_LEN], now[TSTAMP_LEN];
	ids_uuid(id);
	tstamp_format(tstamp_now_ms(), now);
	const char *p[] = {id, b->complaint_id, b->complaint_no};
	PGresult *r = pg_query(pg,
			       "INSERT INTO proposals (id, complaint_id, complaint_no, status, "
			       "remedies) VALUES ($1, $2, $3, 'proposed', '[{\"kind\":\"apology\"}]') "
			       "ON CONFLICT DO NOTHING",
			       3, p);
	if (!r)
		return -1;
	bool inserted = strcmp(PQcmdTuples(r), "1") == 0;
	PQclear(r);
	if (!inserted)
		return 0;
	Cp__ResolutionDecided ev = CP__RESOLUTION_DECIDED__INIT;
	Cp__Remedy apology = CP__REMEDY__INIT;
	Cp__Remedy *remedies[] = {&apology};
	apology.kind = "apology";
	apology.rule = "default";
	ev.complaint_id = b->complaint_id;
	ev.complaint_no = b->complaint_no;
	ev.proposal_id = id;
	ev.status = "proposed";
	ev.n_remedies = 1;
	ev.remedies = remedies;
	ev.decided_at = now;
	return outbox_add(pg, TOPIC_RESOLUTION, b->complaint_id, "cp.complaint.resolution_proposed",
			  &ev.base, NULL);
}

const struct consumer_handler resolution_handlers[] = {
    {TOPIC_EVIDENCE, "cp.complaint.evidence_collected", &cp__evidence_bundle__descriptor,
     validate_evidence, on_evidence},
};
const size_t resolution_nhandlers = sizeof(resolution_handlers) / sizeof(resolution_handlers[0]);
