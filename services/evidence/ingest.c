/* Tracking ingest: one validation for both ways in (Kafka and the HTTP push) and the scan
 * store. A scan costs one statement besides the inbox claim: the dedup key, the partitioned
 * trajectory row and the parcel summary are written by one prepared-statement-friendly
 * INSERT ... WITH chain, so a batch of N scans is N + N round trips in one transaction. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "assess.h"
#include "evidence.h"
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
/* clang-format on */

static void count(const char *what)
{
	char labels[64];
	snprintf(labels, sizeof(labels), "result=\"%s\"", what);
	metrics_add(metrics_counter("cp_evidence_scans_total",
				    "Tracking scans by ingest result (stored, duplicate, expired).",
				    labels),
		    1);
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
	bad += check_times(t, report, arg);
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
	if (pending)
		return bundle_rebuild_untracked(c, t->waybill_no);
	return 0;
}
