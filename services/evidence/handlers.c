/* Event handlers: tracking scans are stored once each (keyed by the carrier's scan id);
 * a classified complaint gets its evidence bundle from the stored trajectory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classification.pb-c.h"
#include "evidence.h"
#include "evidence.pb-c.h"
#include "outbox.h"
#include "pg.h"
#include "topics.h"
#include "tracking.pb-c.h"
#include "tstamp.h"

static int validate_scan(const ProtobufCMessage *m, char *errstr, size_t errlen)
{
	const Cp__TrackingEvent *t = (const void *)m;
	int64_t ms;
	if (!t->waybill_no[0] || !t->scan_id[0]) {
		snprintf(errstr, errlen, "waybill_no and scan_id are required");
		return -1;
	}
	if (t->code == CP__SCAN_CODE__SCAN_CODE_UNSPECIFIED) {
		snprintf(errstr, errlen, "code is required");
		return -1;
	}
	if (tstamp_parse(t->occurred_at, &ms) != 0) {
		snprintf(errstr, errlen, "occurred_at is not RFC 3339");
		return -1;
	}
	return 0;
}

static int on_scan(PGconn *pg, const struct ce_meta *ce, const char *key,
		   const ProtobufCMessage *m, char *errstr, size_t errlen, void *arg)
{
	const Cp__TrackingEvent *t = (const void *)m;
	const ProtobufCEnumValue *code =
	    protobuf_c_enum_descriptor_get_value(&cp__scan_code__descriptor, (int)t->code);
	const char *p[] = {t->carrier,	  t->scan_id,	 t->waybill_no, code ? code->name : "?",
			   t->facility_id, t->facility_type, t->courier_id, t->occurred_at,
			   t->pod_ref,	   t->signed_by,     t->exception_reason};
	return pg_exec(pg,
		       "INSERT INTO scans (carrier, scan_id, waybill_no, code, facility_id, "
		       "facility_type, courier_id, occurred_at, pod_ref, signed_by, "
		       "exception_reason) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11) "
		       "ON CONFLICT DO NOTHING",
		       11, p);
}

static int validate_classified(const ProtobufCMessage *m, char *errstr, size_t errlen)
{
	const Cp__ComplaintClassified *c = (const void *)m;
	if (strlen(c->complaint_id) != 36 || !c->waybill_no[0]) {
		snprintf(errstr, errlen, "complaint_id and waybill_no are required");
		return -1;
	}
	return 0;
}

static int on_classified(PGconn *pg, const struct ce_meta *ce, const char *key,
			 const ProtobufCMessage *m, char *errstr, size_t errlen, void *arg)
{
	const Cp__ComplaintClassified *c = (const void *)m;
	const char *p[] = {c->waybill_no};
	PGresult *r = pg_query(pg,
			       "SELECT count(*), max(occurred_at)::text, (array_agg(facility_id "
			       "ORDER BY occurred_at DESC))[1] FROM scans WHERE waybill_no = $1",
			       1, p);
	if (!r)
		return -1;
	int scans = atoi(pg_value(r, 0, 0, "0"));
	Cp__EvidenceBundle ev = CP__EVIDENCE_BUNDLE__INIT;
	Cp__Responsibility resp = CP__RESPONSIBILITY__INIT;
	char now[TSTAMP_LEN], count[16];
	tstamp_format(tstamp_now_ms(), now);
	resp.stage = "unknown";
	resp.party = "unknown";
	resp.preliminary = true;
	ev.complaint_id = c->complaint_id;
	ev.complaint_no = c->complaint_no;
	ev.waybill_no = c->waybill_no;
	ev.subcategory = c->subcategory;
	ev.tracking_found = scans > 0;
	ev.scan_count = scans;
	ev.last_scan_at = (char *)pg_value(r, 0, 1, "");
	ev.last_facility_id = (char *)pg_value(r, 0, 2, "");
	ev.responsibility = &resp;
	ev.version = 1;
	ev.collected_at = now;
	snprintf(count, sizeof(count), "%d", scans);
	const char *b[] = {c->complaint_id, c->complaint_no, c->waybill_no, c->subcategory,
			   scans > 0 ? "true" : "false", count};
	int rc = pg_exec(pg,
			 "INSERT INTO bundles (complaint_id, complaint_no, waybill_no, subcategory, "
			 "tracking_found, scan_count) VALUES ($1,$2,$3,$4,$5,$6) "
			 "ON CONFLICT (complaint_id) DO NOTHING",
			 6, b);
	if (rc == 0)
		rc = outbox_add(pg, TOPIC_EVIDENCE, c->complaint_id, "cp.complaint.evidence_collected",
				&ev.base, NULL);
	PQclear(r);
	return rc;
}

const struct consumer_handler evidence_handlers[] = {
    {TOPIC_TRACKING, "cp.parcel.scanned", &cp__tracking_event__descriptor, validate_scan,
     on_scan},
    {TOPIC_CLASSIFIED, "cp.complaint.classified", &cp__complaint_classified__descriptor,
     validate_classified, on_classified},
};
const size_t evidence_nhandlers = sizeof(evidence_handlers) / sizeof(evidence_handlers[0]);
