/* Tracking ingest: one validation for both ways in (Kafka and the HTTP push) and the scan
 * store. The scan's own key (carrier, scan_id) in scan_keys makes it idempotent, so no inbox
 * row is written for it. Two ways to store, with the same result:
 *   - one scan, one statement (ingest_store): the dedup key, the partitioned trajectory row
 *     and the parcel summary in one INSERT ... WITH chain;
 *   - a batch of scans, one statement (ingest_store_set): the same chain over unnest() of the
 *     batch, the parcel summary folded per waybill with window functions so that it equals
 *     applying the scans one after the other (see set_sql).
 * Bundles built before their parcel's tracking arrived (pending_bundle) are rebuilt once per
 * waybill at the end of the consumer's batch (ingest_batch_end), after all its scans. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assess.h"
#include "consumer.h"
#include "evidence.h"
#include "ids.h"
#include "log.h"
#include "metrics.h"
#include "pg.h"
#include "tstamp.h"

struct evidence_config evidence_cfg;

/* the SQL keeps the lines it was written in */
/* clang-format off */
#define NEWER "(p.last_scan_at IS NULL OR EXCLUDED.last_scan_at >= p.last_scan_at)"
#define IF_NEWER(col) col " = CASE WHEN " NEWER " THEN EXCLUDED." col " ELSE p." col " END"

static const char store_sql[] =
    "WITH k AS (INSERT INTO scan_keys (carrier, scan_id) VALUES ($1, $2) "
    "ON CONFLICT DO NOTHING RETURNING 1), "
    "s AS (INSERT INTO scans (carrier, scan_id, waybill_no, code, facility_id, facility_type, "
    "courier_id, occurred_at, city, lat, lon, pod_ref, note, signed_by, exception_reason, "
    "customer_consented, promised_by) SELECT $1, $2, $3, $4, $5, $6, $7, $8::timestamptz, $9, "
    "$10::float8, $11::float8, $12, $13, $14, $15, $16::boolean, $17::timestamptz FROM k "
    "RETURNING 1) "
    "INSERT INTO parcels AS p (waybill_no, carrier, scan_count, first_scan_at, last_scan_at, "
    "last_code, last_facility_id, last_facility_type, last_city, courier_id, promised_by, "
    "delivered, delivered_at, final, exceptions) "
    "SELECT $3, $1, 1, $8::timestamptz, $8::timestamptz, $4, $5, $6, $9, $7, "
    "$17::timestamptz, $4 = 'delivered', CASE WHEN $4 = 'delivered' THEN $8::timestamptz END, "
    "$4 IN ('delivered', 'locker_stored', 'station_stored', 'returned'), "
    "($4 = 'exception')::int FROM s "
    "ON CONFLICT (waybill_no) DO UPDATE SET scan_count = p.scan_count + 1, "
    "carrier = EXCLUDED.carrier, first_scan_at = LEAST(p.first_scan_at, EXCLUDED.first_scan_at), "
    "last_scan_at = GREATEST(p.last_scan_at, EXCLUDED.last_scan_at), "
    IF_NEWER("last_code") ", " IF_NEWER("last_facility_id") ", "
    IF_NEWER("last_facility_type") ", " IF_NEWER("last_city") ", "
    "courier_id = CASE WHEN EXCLUDED.courier_id <> '' AND (" NEWER " OR p.courier_id = '') "
    "THEN EXCLUDED.courier_id ELSE p.courier_id END, "
    "promised_by = COALESCE(p.promised_by, EXCLUDED.promised_by), "
    "delivered = p.delivered OR EXCLUDED.delivered, "
    "delivered_at = LEAST(p.delivered_at, EXCLUDED.delivered_at), "
    "final = p.delivered OR EXCLUDED.delivered OR CASE WHEN " NEWER " THEN EXCLUDED.final "
    "ELSE p.final END, exceptions = p.exceptions + EXCLUDED.exceptions, updated_at = now() "
    "RETURNING p.pending_bundle";

/* The set form of store_sql. b: the batch in order, each (carrier, scan_id) once (the first,
 * ingest_store_set leaves the others out), a column that is empty in every scan of the batch
 * sent as an empty array (unnest pads it with NULLs, read as ''); k: the keys not seen
 * before (ON CONFLICT: an anti-join insert saved little per key, and in make bench, prepared
 * while scan_keys was young, evidence's backends took 62 ms of CPU per 1,000 scans with it
 * instead of about 19); f: the scans of new keys; x/y: per scan, what applying the scans
 * one by one would have seen
 * before it (the latest time so far, whether a courier was set), with the parcel row as it is
 * (locked). The summary a sequence of single upserts produces is then, per waybill:
 *   - the last_* columns and `final` of the newest scan (latest occurred_at, the later of equal
 *     ones), if it is not older than the stored last_scan_at (the same NEWER test);
 *   - the courier of the last scan that one-by-one would have taken: non-empty, and not older
 *     than every scan before it or the first courier at all (courier_q);
 *   - counts added, first/last/delivered_at as LEAST/GREATEST, promised_by the first given.
 * Returns the number of scans stored and the waybills whose bundle waits for tracking. */
static const char set_sql[] =
    "WITH b AS (SELECT COALESCE(carrier, '') AS carrier, scan_id, waybill_no, code, "
    "COALESCE(facility_id, '') AS facility_id, COALESCE(facility_type, '') AS facility_type, "
    "COALESCE(courier_id, '') AS courier_id, occurred_at, COALESCE(city, '') AS city, lat, lon, "
    "COALESCE(pod_ref, '') AS pod_ref, COALESCE(note, '') AS note, "
    "COALESCE(signed_by, '') AS signed_by, COALESCE(exception_reason, '') AS exception_reason, "
    "COALESCE(consented = 't', false) AS consented, COALESCE(promised_by, '') AS promised_by, "
    "ord FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], "
    "$5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], "
    "$12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[]) "
    "WITH ORDINALITY AS u (carrier, scan_id, waybill_no, code, facility_id, facility_type, "
    "courier_id, occurred_at, city, lat, lon, pod_ref, note, signed_by, exception_reason, "
    "consented, promised_by, ord)), "
    "k AS (INSERT INTO scan_keys (carrier, scan_id) SELECT carrier, scan_id FROM b "
    "ON CONFLICT DO NOTHING RETURNING carrier, scan_id), "
    "f AS (SELECT b.*, b.occurred_at::timestamptz AS t "
    "FROM b JOIN k ON k.carrier = b.carrier AND k.scan_id = b.scan_id), "
    "s AS (INSERT INTO scans (carrier, scan_id, waybill_no, code, facility_id, facility_type, "
    "courier_id, occurred_at, city, lat, lon, pod_ref, note, signed_by, exception_reason, "
    "customer_consented, promised_by) SELECT carrier, scan_id, waybill_no, code, facility_id, "
    "facility_type, courier_id, t, city, NULLIF(lat, '')::float8, NULLIF(lon, '')::float8, "
    "pod_ref, note, signed_by, exception_reason, consented, "
    "NULLIF(promised_by, '')::timestamptz FROM f RETURNING 1), "
    "cur AS (SELECT p.waybill_no, p.last_scan_at, p.courier_id FROM parcels p "
    "WHERE p.waybill_no IN (SELECT waybill_no FROM f) FOR UPDATE), "
    "x AS (SELECT f.*, max(t) OVER w AS before_t, bool_or(courier_id <> '') OVER w AS "
    "before_courier FROM f WINDOW w AS (PARTITION BY waybill_no ORDER BY ord "
    "ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)), "
    "y AS (SELECT x.*, x.courier_id <> '' AND (GREATEST(cur.last_scan_at, x.before_t) IS NULL "
    "OR x.t >= GREATEST(cur.last_scan_at, x.before_t) OR (COALESCE(cur.courier_id, '') = '' "
    "AND NOT COALESCE(x.before_courier, false))) AS courier_q "
    "FROM x LEFT JOIN cur ON cur.waybill_no = x.waybill_no), "
    "g AS (SELECT waybill_no, count(*) AS n, min(t) AS t_min, max(t) AS t_max, "
    "(array_agg(carrier ORDER BY ord DESC))[1] AS carrier, "
    "(array_agg(code ORDER BY t DESC, ord DESC))[1] AS code, "
    "(array_agg(facility_id ORDER BY t DESC, ord DESC))[1] AS facility_id, "
    "(array_agg(facility_type ORDER BY t DESC, ord DESC))[1] AS facility_type, "
    "(array_agg(city ORDER BY t DESC, ord DESC))[1] AS city, "
    "(array_agg(courier_id ORDER BY ord DESC) FILTER (WHERE courier_q))[1] AS courier_id, "
    "(array_agg(promised_by ORDER BY ord) FILTER (WHERE promised_by <> ''))[1] AS promised_by, "
    "bool_or(code = 'delivered') AS delivered, "
    "min(t) FILTER (WHERE code = 'delivered') AS delivered_at, "
    "count(*) FILTER (WHERE code = 'exception') AS exceptions FROM y GROUP BY waybill_no), "
    "u AS (INSERT INTO parcels AS p (waybill_no, carrier, scan_count, first_scan_at, "
    "last_scan_at, last_code, last_facility_id, last_facility_type, last_city, courier_id, "
    "promised_by, delivered, delivered_at, final, exceptions) "
    "SELECT waybill_no, carrier, n, t_min, t_max, code, facility_id, facility_type, city, "
    "COALESCE(courier_id, ''), promised_by::timestamptz, delivered, delivered_at, "
    "delivered OR code IN ('delivered', 'locker_stored', 'station_stored', 'returned'), "
    "exceptions FROM g "
    "ON CONFLICT (waybill_no) DO UPDATE SET scan_count = p.scan_count + EXCLUDED.scan_count, "
    "carrier = EXCLUDED.carrier, first_scan_at = LEAST(p.first_scan_at, EXCLUDED.first_scan_at), "
    "last_scan_at = GREATEST(p.last_scan_at, EXCLUDED.last_scan_at), "
    IF_NEWER("last_code") ", " IF_NEWER("last_facility_id") ", "
    IF_NEWER("last_facility_type") ", " IF_NEWER("last_city") ", "
    "courier_id = CASE WHEN EXCLUDED.courier_id <> '' THEN EXCLUDED.courier_id "
    "ELSE p.courier_id END, "
    "promised_by = COALESCE(p.promised_by, EXCLUDED.promised_by), "
    "delivered = p.delivered OR EXCLUDED.delivered, "
    "delivered_at = LEAST(p.delivered_at, EXCLUDED.delivered_at), "
    "final = p.delivered OR EXCLUDED.delivered OR CASE WHEN " NEWER " THEN EXCLUDED.final "
    "ELSE p.final END, exceptions = p.exceptions + EXCLUDED.exceptions, updated_at = now() "
    "RETURNING p.waybill_no, p.pending_bundle) "
    "SELECT (SELECT count(*) FROM s), u.waybill_no FROM (SELECT 1) AS one "
    "LEFT JOIN u ON u.pending_bundle";
/* clang-format on */

/* The waybills whose bundle waits for the tracking stored in the current batch (consumer
 * thread only): rebuilt once each at the end of the batch, whichever path stored the scans. */
static __thread struct {
	char (*waybill)[65];
	size_t n, cap;
} pending;

static int pending_add(const char *waybill_no)
{
	for (size_t i = 0; i < pending.n; i++)
		if (strcmp(pending.waybill[i], waybill_no) == 0)
			return 0;
	if (pending.n == pending.cap) {
		size_t cap = pending.cap ? 2 * pending.cap : 16;
		void *grown = realloc(pending.waybill, cap * sizeof(*pending.waybill));
		if (!grown)
			return -1;
		pending.waybill = grown;
		pending.cap = cap;
	}
	snprintf(pending.waybill[pending.n++], sizeof(*pending.waybill), "%s", waybill_no);
	return 0;
}

static void count_n(const char *what, double n)
{
	char labels[64];
	snprintf(labels, sizeof(labels), "result=\"%s\"", what);
	metrics_add(metrics_counter("cp_evidence_scans_total",
				    "Tracking scans by ingest result (stored, duplicate, expired).",
				    labels),
		    n);
}

static void count(const char *what)
{
	count_n(what, 1);
}

static void check_location(const Cp__TrackingEvent *t, ingest_report_fn report, void *arg)
{
	const Cp__GeoPoint *g = t->location;
	if (!g)
		return;
	if (!isfinite(g->lat) || g->lat < -90 || g->lat > 90)
		report("location.lat", "must be between -90 and 90", arg);
	if (!isfinite(g->lon) || g->lon < -180 || g->lon > 180)
		report("location.lon", "must be between -180 and 180", arg);
}

static int check_times(const Cp__TrackingEvent *t, ingest_report_fn report, void *arg)
{
	int64_t ms;
	int bad = 0;
	if (tstamp_parse(t->occurred_at, &ms) != 0) {
		report("occurred_at", "is required, RFC 3339", arg);
		bad++;
	} else if (ms > tstamp_now_ms() + evidence_cfg.max_future_s * 1000) {
		report("occurred_at", "is too far in the future", arg);
		bad++;
	}
	if (t->promised_by[0] && tstamp_parse(t->promised_by, &ms) != 0) {
		report("promised_by", "must be RFC 3339", arg);
		bad++;
	}
	return bad;
}

static int check_text(const char *field, const char *v, size_t max, bool required,
		      ingest_report_fn report, void *arg)
{
	if (required && !v[0]) {
		report(field, "is required", arg);
		return 1;
	}
	if (strlen(v) > max) {
		report(field, "is too long", arg);
		return 1;
	}
	return 0;
}

/* The recipient a scan may name: a pseudonym only. A phone number (or anything else) in
 * recipient_ref is refused, so it never reaches a stored row or a later event. */
static int check_recipient(const Cp__TrackingEvent *t, ingest_report_fn report, void *arg)
{
	static const char *const contacts[] = {"", "sms", "email", "app", "phone", "wechat"};
	int bad = 0;
	bool known = false;
	if (t->recipient_ref[0] && !ids_customer_ref_valid(t->recipient_ref)) {
		report("recipient_ref", "must be a customer_ref (cust_ and 24 hex digits)", arg);
		bad++;
	}
	if (t->recipient_language[0] && strcmp(t->recipient_language, "zh-CN") != 0 &&
	    strcmp(t->recipient_language, "en") != 0) {
		report("recipient_language", "must be zh-CN or en", arg);
		bad++;
	}
	for (size_t i = 0; i < sizeof(contacts) / sizeof(contacts[0]); i++)
		known = known || strcmp(t->recipient_contact, contacts[i]) == 0;
	if (!known) {
		report("recipient_contact", "must be sms, email, app, phone or wechat", arg);
		bad++;
	}
	return bad;
}

int ingest_check(const Cp__TrackingEvent *t, ingest_report_fn report, void *arg)
{
	int bad = check_text("waybill_no", t->waybill_no, 64, true, report, arg) +
		  check_text("scan_id", t->scan_id, 128, true, report, arg) +
		  check_text("carrier", t->carrier, 64, false, report, arg) +
		  check_text("facility_id", t->facility_id, 64, false, report, arg) +
		  check_text("courier_id", t->courier_id, 64, false, report, arg) +
		  check_text("pod_ref", t->pod_ref, 256, false, report, arg) +
		  check_text("note", t->note, 1000, false, report, arg) +
		  check_text("signed_by", t->signed_by, 32, false, report, arg) +
		  check_text("city", t->city, 64, false, report, arg);
	if (!ev_code_name((int)t->code)[0]) {
		report("code", "is required, one of the scan codes", arg);
		bad++;
	}
	if (!ev_facility_type_valid(t->facility_type)) {
		report("facility_type",
		       "must be outlet, sorting_centre, line_haul, locker or partner", arg);
		bad++;
	}
	if (t->code == CP__SCAN_CODE__SCAN_EXCEPTION)
		bad += check_text("exception_reason", t->exception_reason, 48, true, report, arg);
	bad += check_times(t, report, arg) + check_recipient(t, report, arg);
	check_location(t, report, arg);
	return bad;
}

static bool expired(const Cp__TrackingEvent *t)
{
	int64_t ms = 0;
	if (tstamp_parse(t->occurred_at, &ms) != 0)
		return true;
	return ms < tstamp_now_ms() - evidence_cfg.retention_days * 86400000LL;
}

/* Prepared once per connection: planning the WITH chain costs more than running it. */
static PGresult *store_exec(PGconn *c, const char *const *p)
{
	return pg_query_prepared(c, "evidence_store_scan", store_sql, 17, p);
}

/* The recipient the scan names, kept for the parcel (the latest word wins; a repeated scan
 * writes the same again): the stuck sweep reads it to tell them of a delay. One statement,
 * and only for a scan that names one (a pickup, typically). */
static int store_recipient(PGconn *c, const Cp__TrackingEvent *t)
{
	if (!t->recipient_ref[0])
		return 0;
	const char *p[] = {t->waybill_no, t->recipient_ref,
			   t->recipient_language[0] ? t->recipient_language : "zh-CN",
			   t->recipient_contact[0] ? t->recipient_contact : "sms"};
	return pg_exec(
	    c,
	    "INSERT INTO parcel_recipients (waybill_no, customer_ref, language, contact) "
	    "VALUES ($1, $2, $3, $4) ON CONFLICT (waybill_no) DO UPDATE SET customer_ref "
	    "= EXCLUDED.customer_ref, language = EXCLUDED.language, contact = "
	    "EXCLUDED.contact, updated_at = now()",
	    4, p);
}

int ingest_store(PGconn *c, const Cp__TrackingEvent *t)
{
	if (expired(t)) {
		count("expired");
		return 0;
	}
	char lat[32], lon[32];
	if (t->location) {
		snprintf(lat, sizeof(lat), "%.7f", t->location->lat);
		snprintf(lon, sizeof(lon), "%.7f", t->location->lon);
	}
	const char *p[] = {t->carrier,
			   t->scan_id,
			   t->waybill_no,
			   ev_code_name((int)t->code),
			   t->facility_id,
			   t->facility_type,
			   t->courier_id,
			   t->occurred_at,
			   t->city,
			   t->location ? lat : NULL,
			   t->location ? lon : NULL,
			   t->pod_ref,
			   t->note,
			   t->signed_by,
			   t->exception_reason,
			   t->customer_consented ? "t" : "f",
			   t->promised_by[0] ? t->promised_by : NULL};
	PGresult *r = store_exec(c, p);
	if (!r)
		return -1;
	bool fresh = PQntuples(r) > 0, pending = fresh && pg_value(r, 0, 0, "f")[0] == 't';
	PQclear(r);
	count(fresh ? "stored" : "duplicate");
	if (store_recipient(c, t) != 0)
		return -1;
	return pending ? pending_add(t->waybill_no) : 0;
}

/* The 17 columns of set_sql's parameters for one scan; lat and lon are "" when absent (NULL
 * in the table), customer_consented is "t" or "". */
static void scan_cells(const Cp__TrackingEvent *t, const char **cell, char *lat, char *lon)
{
	if (t->location) {
		snprintf(lat, 32, "%.7f", t->location->lat);
		snprintf(lon, 32, "%.7f", t->location->lon);
	}
	const char *v[] = {t->carrier,
			   t->scan_id,
			   t->waybill_no,
			   ev_code_name((int)t->code),
			   t->facility_id,
			   t->facility_type,
			   t->courier_id,
			   t->occurred_at,
			   t->city,
			   t->location ? lat : "",
			   t->location ? lon : "",
			   t->pod_ref,
			   t->note,
			   t->signed_by,
			   t->exception_reason,
			   t->customer_consented ? "t" : "",
			   t->promised_by};
	memcpy(cell, v, sizeof(v));
}

/* Whether scans[i] repeats the (carrier, scan_id) of an earlier scan of the batch: slots is an
 * open-addressing table of nslots (a power of two) indexes into scans, -1 when free. The
 * first of a key is the one stored, as one at a time would. */
static bool scan_repeated(long *slots, size_t nslots, const Cp__TrackingEvent *const *scans,
			  size_t i)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a over carrier, NUL, scan_id */
	for (const char *p = scans[i]->carrier; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	h *= 1099511628211ULL;
	for (const char *p = scans[i]->scan_id; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	for (size_t j = h & (nslots - 1);; j = (j + 1) & (nslots - 1)) {
		if (slots[j] < 0) {
			slots[j] = (long)i;
			return false;
		}
		const Cp__TrackingEvent *o = scans[slots[j]];
		if (strcmp(o->scan_id, scans[i]->scan_id) == 0 &&
		    strcmp(o->carrier, scans[i]->carrier) == 0)
			return true;
	}
}

/* One column (every NCOLS-th cell from cells[0]) of rows cells as a text[] literal at out,
 * or "{}" when every cell is empty (set_sql reads the missing values as ''). Returns the end;
 * out has room for column_room(). No printf, no allocation: these arrays were built per cell
 * with snprintf and malloc before, a visible share of the consumer's CPU per scan. */
static char *column_array(char *out, const char *const *cells, size_t rows, size_t ncols)
{
	char *o = out;
	bool any = false;
	*o++ = '{';
	for (size_t i = 0; i < rows; i++)
		any = any || cells[i * ncols][0];
	for (size_t i = 0; any && i < rows; i++) {
		if (i)
			*o++ = ',';
		*o++ = '"';
		for (const char *c = cells[i * ncols]; *c; c++) {
			if (*c == '"' || *c == '\\')
				*o++ = '\\';
			*o++ = *c;
		}
		*o++ = '"';
	}
	*o++ = '}';
	*o++ = '\0';
	return o;
}

static size_t column_room(const char *const *cells, size_t rows, size_t ncols)
{
	size_t room = 3;
	for (size_t i = 0; i < rows; i++)
		room += 2 * strlen(cells[i * ncols]) + 3;
	return room;
}

int ingest_store_set(PGconn *c, const Cp__TrackingEvent *const *scans, size_t n)
{
	enum { NCOLS = 17 };
	size_t nslots = 16;
	while (nslots < 2 * n)
		nslots *= 2;
	const char **cells = malloc(n * NCOLS * sizeof(*cells));
	char(*coords)[2][32] = malloc(n * sizeof(*coords));
	long *slots = malloc(nslots * sizeof(*slots));
	bool *fresh = malloc(n * sizeof(*fresh)); /* not expired */
	char *text = NULL;
	size_t rows = 0, repeated = 0;
	int rc = -1;
	if (!cells || !coords || !slots || !fresh)
		goto failed;
	for (size_t i = 0; i < nslots; i++)
		slots[i] = -1;
	for (size_t i = 0; i < n; i++) {
		fresh[i] = !expired(scans[i]);
		if (!fresh[i]) {
			count("expired");
			continue;
		}
		if (scan_repeated(slots, nslots, scans, i)) {
			repeated++;
			continue;
		}
		scan_cells(scans[i], cells + rows * NCOLS, coords[rows][0], coords[rows][1]);
		rows++;
	}
	rc = 0;
	if (rows == 0)
		goto failed;
	const char *params[NCOLS];
	size_t room = 0;
	for (size_t k = 0; k < NCOLS; k++)
		room += column_room(cells + k, rows, NCOLS);
	if (!(text = malloc(room))) {
		rc = -1;
		goto failed;
	}
	char *o = text;
	for (size_t k = 0; k < NCOLS; k++) {
		params[k] = o;
		o = column_array(o, cells + k, rows, NCOLS);
	}
	PGresult *r = pg_query_prepared(c, "evidence_store_scans", set_sql, NCOLS, params);
	if (!r) {
		rc = -1;
		goto failed;
	}
	double stored = atof(pg_value(r, 0, 0, "0"));
	count_n("stored", stored);
	count_n("duplicate", (double)(rows + repeated) - stored);
	for (int i = 0; i < PQntuples(r) && rc == 0; i++)
		if (!PQgetisnull(r, i, 1))
			rc = pending_add(PQgetvalue(r, i, 1));
	PQclear(r);
	/* in the batch's order, so the latest scan naming a recipient wins as one at a time */
	for (size_t i = 0; i < n && rc == 0; i++)
		if (fresh[i])
			rc = store_recipient(c, scans[i]);
failed:
	free(cells);
	free(coords);
	free(slots);
	free(fresh);
	free(text);
	return rc;
}

int ingest_batch_end(PGconn *c)
{
	int rc = 0;
	for (size_t i = 0; i < pending.n && rc == 0; i++) {
		if (pg_exec(c, "SAVEPOINT evidence_rebuild", 0, NULL) != 0) {
			rc = -1;
			break;
		}
		if (bundle_rebuild_untracked(c, pending.waybill[i]) == 0) {
			rc = pg_exec(c, "RELEASE SAVEPOINT evidence_rebuild", 0, NULL);
			continue;
		}
		/* a rebuild that fails for good must not lose the batch's scans: the bundle keeps
		 * pending_bundle and the parcel's next scan tries again */
		if (consumer_sqlstate_transient(pg_last_sqlstate()))
			rc = -1;
		else
			log_warn("bundle_rebuild_failed", "bundle of a late-tracked parcel: %s",
				 pg_last_error());
		if (rc == 0 && pg_exec(c, "ROLLBACK TO SAVEPOINT evidence_rebuild", 0, NULL) != 0)
			rc = -1;
	}
	pending.n = 0;
	return rc;
}
