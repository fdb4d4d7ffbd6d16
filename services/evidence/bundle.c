/* A complaint's evidence bundle: read the trajectory and the answers, assess them (assess.c),
 * ask facilities and couriers for what the scans cannot show, store the bundle and announce
 * it, all inside the caller's transaction. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assess.h"
#include "evidence.h"
#include "evidence.pb-c.h"
#include "ids.h"
#include "log.h"
#include "outbox.h"
#include "pg.h"
#include "topics.h"
#include "tstamp.h"

#define ISO(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* Bounded by the summary so only the partitions of the parcel's time span are read; the
 * latest 500 scans when a parcel has more. */
/* clang-format off */
static const char scans_sql[] =
    "SELECT code, (extract(epoch FROM occurred_at) * 1000)::bigint, facility_id, facility_type, "
    "courier_id, city, pod_ref, signed_by, exception_reason, customer_consented, lat, lon, "
    "COALESCE((extract(epoch FROM promised_by) * 1000)::bigint, 0), " ISO("occurred_at") ", "
    "note FROM (SELECT s.* FROM parcels p JOIN scans s ON s.waybill_no = p.waybill_no "
    "AND s.occurred_at BETWEEN p.first_scan_at AND p.last_scan_at WHERE p.waybill_no = $1 "
    "ORDER BY s.occurred_at DESC, s.received_at DESC LIMIT 500) s "
    "ORDER BY occurred_at, received_at";

static const char answers_sql[] =
    "SELECT request_id::text, facility_id, kind, outcome, late, COALESCE(detail, ''), "
    "array_to_json(attachments)::text, " ISO("answered_at") " FROM requests "
    "WHERE complaint_id = $1 AND answered_at IS NOT NULL ORDER BY answered_at, request_id";

static const char row_sql[] =
    "SELECT " BUNDLE_ROW_COLS " FROM bundles WHERE complaint_id = $1 FOR UPDATE";

static const char request_sql[] =
    "INSERT INTO requests (request_id, complaint_id, facility_id, facility_type, courier_id, "
    "kind, due_at) VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7::int)) "
    "ON CONFLICT (complaint_id, kind, facility_id) DO NOTHING RETURNING " ISO("due_at");
/* clang-format on */

/* Everything one build holds; released by build_release. */
struct build {
	const char *complaint_id;
	PGresult *row, *scans, *answers, *open;
	struct ev_scan *scan;
	size_t nscan;
	struct ev_answer *answer;
	size_t nanswer;
	struct ev_result result;
	Cp__EvidenceBundle b;
	Cp__Responsibility resp;
	Cp__Finding *finding;
	Cp__Finding **findings;
	Cp__TrajectoryPoint *point;
	Cp__TrajectoryPoint **points;
	Cp__EvidenceAnswer *ans;
	Cp__EvidenceAnswer **anss;
	char ***attach; /* per answer: a NULL-terminated malloc'ed list */
	char *reasons[EV_MAX_REASONS];
	char **open_ids;
	Cp__GeoPoint where;
	json_t *confirmed;
	size_t requested; /* evidence requests this build made */
	char now[TSTAMP_LEN], promised[TSTAMP_LEN], delivered[TSTAMP_LEN];
};

static void build_release(struct build *x)
{
	for (size_t i = 0; x->attach && i < x->nanswer; i++)
		free(x->attach[i]);
	free(x->attach);
	free(x->scan);
	free(x->answer);
	free(x->finding);
	free(x->findings);
	free(x->point);
	free(x->points);
	free(x->ans);
	free(x->anss);
	free(x->open_ids);
	json_decref(x->confirmed);
	PQclear(x->open);
	PQclear(x->answers);
	PQclear(x->scans);
	PQclear(x->row);
}

/* ---- reading ---- */

static int load_scans(PGconn *c, struct build *x)
{
	const char *p[] = {PQgetvalue(x->row, 0, 1)};
	x->scans = pg_query(c, scans_sql, 1, p);
	if (!x->scans)
		return -1;
	x->nscan = (size_t)PQntuples(x->scans);
	x->scan = calloc(x->nscan + 1, sizeof(*x->scan));
	if (!x->scan)
		return -1;
	for (size_t i = 0; i < x->nscan; i++) {
		PGresult *r = x->scans;
		int row = (int)i;
		struct ev_scan *s = &x->scan[i];
		s->code = ev_code_parse(PQgetvalue(r, row, 0));
		s->at_ms = strtoll(PQgetvalue(r, row, 1), NULL, 10);
		s->facility_id = PQgetvalue(r, row, 2);
		s->facility_type = PQgetvalue(r, row, 3);
		s->courier_id = PQgetvalue(r, row, 4);
		s->city = PQgetvalue(r, row, 5);
		s->pod_ref = PQgetvalue(r, row, 6);
		s->signed_by = PQgetvalue(r, row, 7);
		s->reason = PQgetvalue(r, row, 8);
		s->consented = PQgetvalue(r, row, 9)[0] == 't';
		s->has_location = !PQgetisnull(r, row, 10) && !PQgetisnull(r, row, 11);
		s->lat = s->has_location ? strtod(PQgetvalue(r, row, 10), NULL) : 0;
		s->lon = s->has_location ? strtod(PQgetvalue(r, row, 11), NULL) : 0;
		s->promised_ms = strtoll(PQgetvalue(r, row, 12), NULL, 10);
		s->ref = i;
	}
	return 0;
}

static int load_answers(PGconn *c, struct build *x)
{
	const char *p[] = {x->complaint_id};
	x->answers = pg_query(c, answers_sql, 1, p);
	if (!x->answers)
		return -1;
	x->nanswer = (size_t)PQntuples(x->answers);
	x->answer = calloc(x->nanswer + 1, sizeof(*x->answer));
	if (!x->answer)
		return -1;
	for (size_t i = 0; i < x->nanswer; i++) {
		x->answer[i].facility_id = PQgetvalue(x->answers, (int)i, 1);
		x->answer[i].kind = PQgetvalue(x->answers, (int)i, 2);
		x->answer[i].outcome = PQgetvalue(x->answers, (int)i, 3);
		x->answer[i].late = PQgetvalue(x->answers, (int)i, 4)[0] == 't';
	}
	return 0;
}

/* ---- evidence requests ---- */

static int request_one(PGconn *c, struct build *x, const char *kind, const char *facility,
		       const char *facility_type, const char *courier)
{
	char id[IDS_UUID_LEN], due[16], path[128];
	ids_uuid(id);
	snprintf(due, sizeof(due), "%lld", evidence_cfg.request_due_s);
	const char *p[] = {id, x->complaint_id, facility, facility_type, courier, kind, due};
	PGresult *r = pg_query(c, request_sql, 7, p);
	if (!r)
		return -1;
	int rc = 0;
	if (PQntuples(r) == 1) {
		Cp__EvidenceRequest q = CP__EVIDENCE_REQUEST__INIT;
		x->requested++;
		snprintf(path, sizeof(path), "/v1/evidence-requests/%s/answer", id);
		q.request_id = id;
		q.complaint_id = (char *)x->complaint_id;
		q.complaint_no = PQgetvalue(x->row, 0, 0);
		q.waybill_no = PQgetvalue(x->row, 0, 1);
		q.facility_id = (char *)facility;
		q.facility_type = (char *)facility_type;
		q.courier_id = (char *)courier;
		q.kind = (char *)kind;
		q.due_at = PQgetvalue(r, 0, 0);
		q.callback_path = path;
		rc = outbox_add(c, TOPIC_EVIDENCE_REQUEST, x->complaint_id,
				"cp.complaint.evidence_requested", &q.base, NULL);
	}
	PQclear(r);
	return rc;
}

static int request_evidence(PGconn *c, struct build *x)
{
	const struct ev_result *r = &x->result;
	for (size_t i = 0; i < r->nsurvey; i++)
		if (request_one(c, x, "surveillance", r->survey[i], "sorting_centre", "") != 0)
			return -1;
	if (!r->courier_statement)
		return 0;
	const struct ev_scan *s = &x->scan[r->delivery >= 0 ? r->delivery : r->last];
	return request_one(c, x, "courier_statement", s->facility_id, s->facility_type,
			   r->courier_id);
}

static int load_open(PGconn *c, struct build *x)
{
	const char *p[] = {x->complaint_id};
	x->open = pg_query(c,
			   "SELECT request_id::text FROM requests WHERE complaint_id = $1 AND "
			   "answered_at IS NULL ORDER BY requested_at, request_id",
			   1, p);
	if (!x->open)
		return -1;
	x->open_ids = calloc((size_t)PQntuples(x->open) + 1, sizeof(char *));
	if (!x->open_ids)
		return -1;
	for (int i = 0; i < PQntuples(x->open); i++)
		x->open_ids[i] = PQgetvalue(x->open, i, 0);
	x->b.n_open_requests = (size_t)PQntuples(x->open);
	x->b.open_requests = x->open_ids;
	return 0;
}

/* ---- the protobuf bundle ---- */

static int fill_findings(struct build *x)
{
	size_t n = x->result.nfindings;
	x->finding = calloc(n + 1, sizeof(*x->finding));
	x->findings = calloc(n + 1, sizeof(*x->findings));
	if (!x->finding || !x->findings)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct ev_finding *f = &x->result.findings[i];
		cp__finding__init(&x->finding[i]);
		x->finding[i].kind = f->kind;
		x->finding[i].facility_id = f->facility_id;
		x->finding[i].seconds = f->seconds;
		x->finding[i].detail = f->detail;
		x->findings[i] = &x->finding[i];
	}
	x->b.findings = x->findings;
	x->b.n_findings = n;
	return 0;
}

static int fill_trajectory(struct build *x)
{
	size_t from = x->result.slice_from, n = x->result.slice_to - from;
	x->point = calloc(n + 1, sizeof(*x->point));
	x->points = calloc(n + 1, sizeof(*x->points));
	if (!x->point || !x->points)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct ev_scan *s = &x->scan[from + i];
		Cp__TrajectoryPoint *p = &x->point[i];
		cp__trajectory_point__init(p);
		p->occurred_at = PQgetvalue(x->scans, (int)s->ref, 13);
		p->note = PQgetvalue(x->scans, (int)s->ref, 14);
		p->code = (char *)ev_code_name(s->code);
		p->facility_id = (char *)s->facility_id;
		p->facility_type = (char *)s->facility_type;
		p->courier_id = (char *)s->courier_id;
		p->city = (char *)s->city;
		p->exception_reason = (char *)s->reason;
		x->points[i] = p;
	}
	x->b.trajectory = x->points;
	x->b.n_trajectory = n;
	return 0;
}

static char **split_json_list(const char *text)
{
	json_t *arr = json_loads(text, 0, NULL);
	size_t n = json_is_array(arr) ? json_array_size(arr) : 0, k = 0;
	size_t bytes = (n + 1) * sizeof(char *);
	for (size_t i = 0; i < n; i++)
		bytes += strlen(json_string_value(json_array_get(arr, i)) ?: "") + 1;
	char **out = calloc(1, bytes);
	char *pos = out ? (char *)(out + n + 1) : NULL;
	for (size_t i = 0; out && i < n; i++) {
		const char *v = json_string_value(json_array_get(arr, i)) ?: "";
		out[k++] = strcpy(pos, v);
		pos += strlen(v) + 1;
	}
	json_decref(arr);
	return out;
}

static int fill_answers(struct build *x)
{
	size_t n = x->nanswer;
	x->ans = calloc(n + 1, sizeof(*x->ans));
	x->anss = calloc(n + 1, sizeof(*x->anss));
	x->attach = calloc(n + 1, sizeof(*x->attach));
	if (!x->ans || !x->anss || !x->attach)
		return -1;
	for (size_t i = 0; i < n; i++) {
		Cp__EvidenceAnswer *a = &x->ans[i];
		int row = (int)i;
		cp__evidence_answer__init(a);
		a->request_id = PQgetvalue(x->answers, row, 0);
		a->facility_id = PQgetvalue(x->answers, row, 1);
		a->kind = PQgetvalue(x->answers, row, 2);
		a->outcome = PQgetvalue(x->answers, row, 3);
		a->late = PQgetvalue(x->answers, row, 4)[0] == 't';
		a->detail = PQgetvalue(x->answers, row, 5);
		a->answered_at = PQgetvalue(x->answers, row, 7);
		x->attach[i] = split_json_list(PQgetvalue(x->answers, row, 6));
		if (!x->attach[i])
			return -1;
		while (x->attach[i][a->n_attachments])
			a->n_attachments++;
		a->attachments = x->attach[i];
		x->anss[i] = a;
	}
	x->b.answers = x->anss;
	x->b.n_answers = n;
	return 0;
}

static void fill_responsibility(struct build *x)
{
	Cp__Responsibility *r = &x->resp;
	struct ev_resp *e = &x->result.resp;
	cp__responsibility__init(r);
	r->stage = e->stage;
	r->party = e->party;
	r->party_id = e->party_id;
	r->confidence_pct = e->confidence;
	r->preliminary = true;
	/* what the scans prove stays true whatever a person later confirms */
	r->conclusive = e->conclusive;
	for (size_t i = 0; i < e->nreasons; i++)
		x->reasons[i] = e->reasons[i];
	r->reasons = x->reasons;
	r->n_reasons = e->nreasons;
	if (!x->confirmed)
		return;
	/* a person's judgement stands over later rebuilds */
	r->stage = (char *)(json_string_value(json_object_get(x->confirmed, "stage")) ?: "unknown");
	r->party = (char *)(json_string_value(json_object_get(x->confirmed, "party")) ?: "unknown");
	r->party_id = (char *)(json_string_value(json_object_get(x->confirmed, "party_id")) ?: "");
	r->note = (char *)(json_string_value(json_object_get(x->confirmed, "note")) ?: "");
	r->confidence_pct = 100;
	r->preliminary = false;
	r->confirmed_by = PQgetvalue(x->row, 0, 6);
	r->confirmed_at = PQgetvalue(x->row, 0, 7);
	json_t *reasons = json_object_get(x->confirmed, "reasons");
	r->n_reasons = 0;
	for (size_t i = 0; i < json_array_size(reasons) && i < EV_MAX_REASONS; i++)
		if (json_is_string(json_array_get(reasons, i)))
			x->reasons[r->n_reasons++] =
			    (char *)json_string_value(json_array_get(reasons, i));
}

static void fill_delivery(struct build *x)
{
	const struct ev_result *r = &x->result;
	Cp__EvidenceBundle *b = &x->b;
	b->delivered = r->delivered;
	b->locker_or_station = r->locker_or_station;
	b->customer_consented = r->consented;
	b->courier_id = (char *)r->courier_id;
	b->delivered_at = x->delivered;
	if (r->promised_ms) {
		tstamp_format(r->promised_ms, x->promised);
		b->promised_by = x->promised;
	}
	if (r->last < 0)
		return;
	const struct ev_scan *last = &x->scan[r->last];
	b->last_scan_at = PQgetvalue(x->scans, (int)last->ref, 13);
	b->last_facility_id = (char *)last->facility_id;
	if (r->delivery < 0)
		return;
	const struct ev_scan *d = &x->scan[r->delivery];
	tstamp_format(d->at_ms, x->delivered);
	b->pod_ref = (char *)d->pod_ref;
	b->signed_by = (char *)d->signed_by;
	b->delivery_city = (char *)d->city;
	if (d->has_location) {
		cp__geo_point__init(&x->where);
		x->where.lat = d->lat;
		x->where.lon = d->lon;
		b->delivery_location = &x->where;
	}
}

static int fill_bundle(struct build *x)
{
	Cp__EvidenceBundle *b = &x->b;
	cp__evidence_bundle__init(b);
	b->complaint_id = (char *)x->complaint_id;
	b->complaint_no = PQgetvalue(x->row, 0, 0);
	b->waybill_no = PQgetvalue(x->row, 0, 1);
	b->category = PQgetvalue(x->row, 0, 2);
	b->subcategory = PQgetvalue(x->row, 0, 3);
	b->version = atoi(PQgetvalue(x->row, 0, 4)) + 1;
	b->tracking_found = x->result.tracking_found;
	b->scan_count = (int32_t)x->nscan;
	tstamp_format(tstamp_now_ms(), x->now);
	b->collected_at = x->now;
	b->facilities = (char **)x->result.facilities;
	b->n_facilities = x->result.nfacilities;
	b->responsibility = &x->resp;
	fill_responsibility(x);
	fill_delivery(x);
	if (fill_findings(x) != 0 || fill_trajectory(x) != 0 || fill_answers(x) != 0)
		return -1;
	return 0;
}

/* ---- the JSON document staff read ---- */

static json_t *strings_json(char **v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static json_t *findings_json(const Cp__EvidenceBundle *b)
{
	json_t *a = json_array();
	for (size_t i = 0; i < b->n_findings; i++) {
		const Cp__Finding *f = b->findings[i];
		json_array_append_new(a, json_pack("{s:s, s:s, s:I, s:s}", "kind", f->kind,
						   "facility_id", f->facility_id, "seconds",
						   (json_int_t)f->seconds, "detail", f->detail));
	}
	return a;
}

static json_t *resp_json(const Cp__Responsibility *r)
{
	json_t *j = json_pack(
	    "{s:s, s:s, s:s, s:o, s:i, s:b, s:b}", "stage", r->stage, "party", r->party, "party_id",
	    r->party_id, "reasons", strings_json(r->reasons, r->n_reasons), "confidence_pct",
	    r->confidence_pct, "preliminary", r->preliminary, "conclusive", r->conclusive);
	if (!r->preliminary)
		json_object_set_new(j, "confirmed_by", json_string(r->confirmed_by));
	if (!r->preliminary)
		json_object_set_new(j, "confirmed_at", json_string(r->confirmed_at));
	if (r->note[0])
		json_object_set_new(j, "note", json_string(r->note));
	return j;
}

static json_t *trajectory_json(const Cp__EvidenceBundle *b)
{
	json_t *a = json_array();
	for (size_t i = 0; i < b->n_trajectory; i++) {
		const Cp__TrajectoryPoint *p = b->trajectory[i];
		json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
						   "occurred_at", p->occurred_at, "code", p->code,
						   "facility_id", p->facility_id, "facility_type",
						   p->facility_type, "courier_id", p->courier_id,
						   "city", p->city, "exception_reason",
						   p->exception_reason, "note", p->note));
	}
	return a;
}

static json_t *answers_json(const Cp__EvidenceBundle *b)
{
	json_t *a = json_array();
	for (size_t i = 0; i < b->n_answers; i++) {
		const Cp__EvidenceAnswer *x = b->answers[i];
		json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:b, s:s}",
						   "request_id", x->request_id, "facility_id",
						   x->facility_id, "kind", x->kind, "outcome",
						   x->outcome, "detail", x->detail, "attachments",
						   strings_json(x->attachments, x->n_attachments),
						   "late", x->late, "answered_at", x->answered_at));
	}
	return a;
}

static json_t *nullable(const char *s)
{
	return s && s[0] ? json_string(s) : json_null();
}

static json_t *bundle_json(const Cp__EvidenceBundle *b)
{
	json_t *j = json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:i, s:b, s:i, s:b, s:b, s:b, s:s, s:o, s:o, s:o, s:o, "
	    "s:o, s:o}",
	    "complaint_id", b->complaint_id, "complaint_no", b->complaint_no, "waybill_no",
	    b->waybill_no, "category", b->category, "subcategory", b->subcategory, "version",
	    b->version, "tracking_found", b->tracking_found, "scan_count", b->scan_count,
	    "delivered", b->delivered, "locker_or_station", b->locker_or_station,
	    "customer_consented", b->customer_consented, "collected_at", b->collected_at,
	    "findings", findings_json(b), "responsibility", resp_json(b->responsibility),
	    "trajectory", trajectory_json(b), "answers", answers_json(b), "facilities",
	    strings_json(b->facilities, b->n_facilities), "open_requests",
	    strings_json(b->open_requests, b->n_open_requests));
	json_object_set_new(j, "last_scan_at", nullable(b->last_scan_at));
	json_object_set_new(j, "last_facility_id", nullable(b->last_facility_id));
	json_object_set_new(j, "courier_id", nullable(b->courier_id));
	json_object_set_new(j, "promised_by", nullable(b->promised_by));
	json_object_set_new(j, "delivered_at", nullable(b->delivered_at));
	json_object_set_new(j, "pod_ref", nullable(b->pod_ref));
	json_object_set_new(j, "signed_by", nullable(b->signed_by));
	json_object_set_new(j, "delivery_city", nullable(b->delivery_city));
	if (b->delivery_location)
		json_object_set_new(j, "delivery_location",
				    json_pack("{s:f, s:f}", "lat", b->delivery_location->lat, "lon",
					      b->delivery_location->lon));
	return j;
}

#define STORE_BUNDLE_SQL                                                                           \
	"UPDATE bundles SET version = $2::int, tracking_found = $3::boolean, scan_count = "        \
	"$4::int, doc = $5::jsonb, findings = $5::jsonb -> 'findings', responsibility = "          \
	"$5::jsonb -> 'responsibility', updated_at = now() WHERE complaint_id = $1"

/* Stores the bundle; with pending_waybill (a fresh bundle) the same statement marks that
 * parcel as waiting for tracking when it has no scan yet, so that the scans' ingest rebuilds
 * the bundle once they come (the parcel row was locked before the scans were read). */
static int store_bundle(PGconn *c, struct build *x, const char *pending_waybill)
{
	json_t *doc = bundle_json(&x->b);
	char *text = json_dumps(doc, JSON_COMPACT);
	char version[16], count[16];
	snprintf(version, sizeof(version), "%d", x->b.version);
	snprintf(count, sizeof(count), "%d", x->b.scan_count);
	const char *p[] = {x->complaint_id, version, x->b.tracking_found ? "t" : "f",
			   count,	    text,    pending_waybill};
	int rc = !text ? -1
		 : pending_waybill
		     ? pg_exec(c,
			       "WITH p AS (UPDATE parcels SET pending_bundle = true "
			       "WHERE waybill_no = $6 AND scan_count = 0) " STORE_BUNDLE_SQL,
			       6, p)
		     : pg_exec(c, STORE_BUNDLE_SQL, 5, p);
	free(text);
	json_decref(doc);
	return rc;
}

static int read_row(PGconn *c, struct build *x)
{
	const char *p[] = {x->complaint_id};
	x->row = pg_query(c, row_sql, 1, p);
	if (!x->row || PQntuples(x->row) != 1)
		return -1;
	if (!PQgetisnull(x->row, 0, 5))
		x->confirmed = json_loads(PQgetvalue(x->row, 0, 5), 0, NULL);
	return 0;
}

static struct ev_policy policy(void)
{
	return (struct ev_policy){evidence_cfg.stuck_after_s, evidence_cfg.force_majeure,
				  (size_t)evidence_cfg.slice_scans};
}

/* The build once x->row is read. A fresh bundle (inserted by this transaction) skips what it
 * cannot have (issue 14: six statements per complaint were three): requests reference the
 * bundle, so it has no answers, and no open requests but those this build made. */
static int build_run(PGconn *c, struct build *x, bool first, bool fresh)
{
	struct ev_policy pol = policy();
	if (load_scans(c, x) != 0)
		return -1;
	if (!fresh && load_answers(c, x) != 0)
		return -1;
	if (fresh && !(x->answer = calloc(1, sizeof(*x->answer))))
		return -1;
	ev_assess(x->scan, x->nscan, PQgetvalue(x->row, 0, 3), x->answer, x->nanswer, &pol,
		  tstamp_now_ms(), &x->result);
	if (request_evidence(c, x) != 0 || fill_bundle(x) != 0 ||
	    ((!fresh || x->requested > 0) && load_open(c, x) != 0) ||
	    store_bundle(c, x, fresh ? PQgetvalue(x->row, 0, 1) : NULL) != 0)
		return -1;
	int rc =
	    outbox_add(c, TOPIC_EVIDENCE, x->complaint_id,
		       first ? "cp.complaint.evidence_collected" : "cp.complaint.evidence_updated",
		       &x->b.base, NULL);
	log_msg(LOG_INFO, first ? "evidence_collected" : "evidence_updated",
		LOG_KV({"complaint_no", x->b.complaint_no}, {"party", x->b.responsibility->party}),
		"bundle version %d with %zu findings", x->b.version, x->b.n_findings);
	return rc;
}

int bundle_build(PGconn *c, const char *complaint_id, bool first)
{
	struct build x;
	memset(&x, 0, sizeof(x));
	x.complaint_id = complaint_id;
	int rc = read_row(c, &x) == 0 ? build_run(c, &x, first, false) : -1;
	build_release(&x);
	return rc;
}

int bundle_build_fresh(PGconn *c, const char *complaint_id, PGresult *row)
{
	struct build x;
	memset(&x, 0, sizeof(x));
	x.complaint_id = complaint_id;
	x.row = row;
	int rc = PQntuples(row) == 1 ? build_run(c, &x, true, true) : -1;
	build_release(&x);
	return rc;
}

int bundle_rebuild_untracked(PGconn *c, const char *waybill_no)
{
	const char *p[] = {waybill_no};
	PGresult *r =
	    pg_query(c,
		     "SELECT complaint_id::text FROM bundles WHERE waybill_no = $1 AND NOT "
		     "tracking_found AND closed_at IS NULL ORDER BY complaint_id",
		     1, p);
	if (!r)
		return -1;
	int rc = 0;
	for (int i = 0; i < PQntuples(r) && rc == 0; i++)
		rc = bundle_build(c, PQgetvalue(r, i, 0), false);
	PQclear(r);
	if (rc == 0)
		rc = pg_exec(c, "UPDATE parcels SET pending_bundle = false WHERE waybill_no = $1",
			     1, p);
	return rc;
}
