/* Routing: a complaint is offered to the OFFER_SIZE nearest available staff; the first to
 * accept owns it (the assignment row is locked, so a second accept gets 409). Offers expire
 * after OFFER_TIMEOUT_SECONDS: the sweep task (FOR UPDATE SKIP LOCKED, safe with several
 * instances) offers the next nearest, and after OFFER_ROUNDS rounds escalates up the ladder
 * (escalate.c). Staff excluded from the complaint (conflict.c) are never offered it and cannot
 * accept it. Every step is announced on complaint.classified.v1 as a ComplaintAssignment. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "classification.h"
#include "classification.pb-c.h"
#include "log.h"
#include "outbox.h"
#include "ownership.h"
#include "pg.h"
#include "topics.h"
#include "tstamp.h"

#define OFFER_MAX 10

/* The routing state of one complaint (ownership.h). */
#define asg offers_case

struct candidates {
	struct route_staff *v;
	size_t n;
};

/* The database pre-sorts by an equirectangular approximation of the distance (staff without a
 * position last) and returns a short list; route_nearest ranks it by great-circle distance.
 * Without an origin: the case's outlet first. */
#define CANDIDATES_SQL                                                                             \
	"SELECT staff_id, outlet_id, lat, lon FROM staff s WHERE available AND role IN "           \
	"('agent', 'courier') AND ($1::uuid IS NULL OR (NOT EXISTS (SELECT 1 FROM offers o WHERE " \
	"o.complaint_id = $1::uuid AND o.staff_id = s.staff_id) AND NOT EXISTS (SELECT 1 FROM "    \
	"excluded_staff x WHERE x.complaint_id = $1::uuid AND x.staff_id = s.staff_id))) "         \
	"ORDER BY CASE WHEN "                                                                      \
	"$3::boolean THEN coalesce((lat - $4::float8) ^ 2 + ((lon - $5::float8) * "                \
	"cos(radians($4::float8))) ^ 2, 1e12) ELSE 0 END, (outlet_id = $2) DESC, staff_id "        \
	"LIMIT $6::int"

/* How many pre-sorted candidates the exact ranking sees per staff member wanted. */
#define CANDIDATES_PER_PICK 10

static int load_candidates(PGconn *c, const char *complaint_id, const char *outlet,
			   const struct route_origin *o, size_t k, struct candidates *out)
{
	char lat[32], lon[32], limit[16];
	snprintf(lat, sizeof(lat), "%.7f", o->lat);
	snprintf(lon, sizeof(lon), "%.7f", o->lon);
	snprintf(limit, sizeof(limit), "%zu", k * CANDIDATES_PER_PICK);
	const char *p[] = {complaint_id, outlet, o->has_location ? "true" : "false",
			   lat,		 lon,	 limit};
	PGresult *res = pg_query(c, CANDIDATES_SQL, 6, p);
	if (!res)
		return -1;
	int n = PQntuples(res);
	out->v = calloc(n ? (size_t)n : 1, sizeof(*out->v));
	out->n = 0;
	for (int i = 0; out->v && i < n; i++) {
		struct route_staff *s = &out->v[out->n++];
		snprintf(s->staff_id, sizeof(s->staff_id), "%s", PQgetvalue(res, i, 0));
		snprintf(s->outlet_id, sizeof(s->outlet_id), "%s", PQgetvalue(res, i, 1));
		s->has_location = !PQgetisnull(res, i, 2) && !PQgetisnull(res, i, 3);
		s->lat = atof(PQgetvalue(res, i, 2));
		s->lon = atof(PQgetvalue(res, i, 3));
	}
	PQclear(res);
	return out->v ? 0 : -1;
}

/* The announcement with the case's exclusions already read (a set reads them for all its
 * cases with one statement). */
static int announce_listed(PGconn *c, const struct asg *a, const struct offers_note *n,
			   char **excluded, size_t nexcluded)
{
	Cp__ComplaintAssignment ev = CP__COMPLAINT_ASSIGNMENT__INIT;
	char now[TSTAMP_LEN];
	PGresult *ores = NULL;
	int rc = -1;
	tstamp_format(tstamp_now_ms(), now);
	ev.complaint_id = (char *)a->id;
	ev.complaint_no = (char *)a->no;
	ev.action = (char *)n->action;
	ev.n_staff_ids = n->nstaff;
	ev.staff_ids = n->staff;
	ev.owner_staff_id = (char *)(n->owner ? n->owner : "");
	ev.round = a->round;
	ev.at = now;
	ev.outlet_id = (char *)a->outlet;
	ev.actor_staff_id = (char *)(n->actor ? n->actor : "");
	ev.reason = (char *)(n->reason ? n->reason : "");
	ev.previous_owner_staff_id = (char *)(n->previous_owner ? n->previous_owner : "");
	ev.n_excluded_staff_ids = nexcluded;
	ev.excluded_staff_ids = excluded;
	ev.escalation_level = n->level;
	ev.escalated_role = (char *)(n->role ? n->role : "");
	/* the customer's status page says who handles the case by first name and role only */
	if (n->owner && n->owner[0]) {
		ores = pg_query(c, "SELECT first_name, role FROM staff WHERE staff_id = $1", 1,
				(const char *[]){n->owner});
		if (!ores)
			goto out;
		if (PQntuples(ores) > 0) {
			ev.owner_first_name = PQgetvalue(ores, 0, 0);
			ev.owner_role = PQgetvalue(ores, 0, 1);
		}
	}
	log_msg(LOG_INFO, n->ce_type + 13,
		LOG_KV({"complaint_no", a->no}, {"outlet_id", a->outlet}, {"reason", ev.reason}),
		"%s in round %d to %zu staff", n->action, a->round, n->nstaff);
	rc = outbox_add(c, TOPIC_CLASSIFIED, a->id, n->ce_type, &ev.base, NULL);
out:
	PQclear(ores);
	return rc;
}

int offers_announce(PGconn *c, const struct asg *a, const struct offers_note *n)
{
	char **excluded = NULL;
	PGresult *xres = NULL;
	size_t nexcluded = 0;
	if (a->excluded_read)
		return announce_listed(c, a, n, a->excluded, a->nexcluded);
	/* every announcement repeats the exclusions, so a service that joins late or a console
	 * that shows one event still knows who must not decide */
	if (conflict_list(c, a->id, &xres, &excluded, &nexcluded) != 0)
		return -1;
	int rc = announce_listed(c, a, n, excluded, nexcluded);
	free(excluded);
	PQclear(xres);
	return rc;
}

/* The reason the case's current step carries, "" when none. */
static const char *why(const struct asg *a)
{
	return a->reason ? a->reason : "";
}

/* Offer rounds exhausted, or nobody left to offer: up the ladder from the outlet manager. */
static int escalate(PGconn *c, struct asg *a)
{
	struct esc_target to;
	if (escalation_find(c, a, ESC_LEVEL_OUTLET, &to) != 0)
		return -1;
	return escalation_apply(c, a, &to, true, why(a), NULL);
}

static int record_offers(PGconn *c, const struct asg *a, char **ids, size_t n)
{
	char round[16], secs[24];
	snprintf(round, sizeof(round), "%d", a->round);
	snprintf(secs, sizeof(secs), "%lld", classification_cfg.offer_timeout_s);
	for (size_t i = 0; i < n; i++) {
		const char *p[] = {a->id, ids[i], round};
		if (pg_exec(
			c,
			"INSERT INTO offers (complaint_id, staff_id, round) VALUES ($1::uuid, $2, "
			"$3::int) ON CONFLICT DO NOTHING",
			3, p) != 0)
			return -1;
	}
	const char *u[] = {a->id, round, secs};
	return pg_exec(c,
		       "UPDATE assignments SET state = 'offered', round = $2::int, expires_at = "
		       "now() + make_interval(secs => $3::int) WHERE complaint_id = $1::uuid",
		       3, u);
}

/* Offers the complaint to the next nearest staff not offered yet; escalates when none. */
int offers_next_round(PGconn *c, struct asg *a)
{
	struct candidates cand = {0};
	size_t idx[OFFER_MAX], k = (size_t)classification_cfg.offer_size;
	char *ids[OFFER_MAX];
	const struct route_origin o = {a->has_origin, a->lat, a->lon, ""};
	k = k < OFFER_MAX ? k : OFFER_MAX;
	if (load_candidates(c, a->id, a->outlet, &o, k, &cand) != 0)
		return -1;
	size_t n = route_nearest(a->has_origin, a->lat, a->lon, cand.v, cand.n, k, idx);
	int rc;
	if (n == 0) {
		rc = escalate(c, a);
	} else {
		a->round++;
		for (size_t i = 0; i < n; i++)
			ids[i] = cand.v[idx[i]].staff_id;
		rc = record_offers(c, a, ids, n);
		const struct offers_note note = {.action = "offered",
						 .ce_type = "cp.complaint.offered",
						 .staff = ids,
						 .nstaff = n,
						 .reason = why(a)};
		if (rc == 0)
			rc = offers_announce(c, a, &note);
	}
	free(cand.v);
	return rc;
}

static int parcel_origin(PGconn *c, const Cp__ComplaintReceived *rc, struct route_origin *o)
{
	const char *p[] = {rc->waybill_no};
	PGresult *res =
	    pg_query(c,
		     "SELECT facility_id, facility_type, lat, lon FROM parcel_positions "
		     "WHERE waybill_no = $1",
		     1, p);
	if (!res)
		return -1;
	if (PQntuples(res) > 0) {
		if (!o->outlet_id[0] && strcmp(PQgetvalue(res, 0, 1), "outlet") == 0)
			snprintf(o->outlet_id, sizeof(o->outlet_id), "%s", PQgetvalue(res, 0, 0));
		o->has_location = !PQgetisnull(res, 0, 2) && !PQgetisnull(res, 0, 3);
		o->lat = atof(PQgetvalue(res, 0, 2));
		o->lon = atof(PQgetvalue(res, 0, 3));
	}
	PQclear(res);
	return 0;
}

/* Where the outlet's staff are, when the parcel's position is unknown. */
static int outlet_origin(PGconn *c, struct route_origin *o)
{
	const char *p[] = {o->outlet_id};
	PGresult *res =
	    pg_query(c,
		     "SELECT avg(lat), avg(lon) FROM staff WHERE outlet_id = $1 AND lat "
		     "IS NOT NULL AND lon IS NOT NULL",
		     1, p);
	if (!res)
		return -1;
	if (!PQgetisnull(res, 0, 0)) {
		o->has_location = true;
		o->lat = atof(PQgetvalue(res, 0, 0));
		o->lon = atof(PQgetvalue(res, 0, 1));
	}
	PQclear(res);
	return 0;
}

static int nearest_outlet(PGconn *c, struct route_origin *o)
{
	struct candidates cand = {0};
	size_t idx[1];
	if (load_candidates(c, NULL, "", o, 1, &cand) != 0)
		return -1;
	if (route_nearest(o->has_location, o->lat, o->lon, cand.v, cand.n, 1, idx) == 1)
		snprintf(o->outlet_id, sizeof(o->outlet_id), "%s", cand.v[idx[0]].outlet_id);
	free(cand.v);
	return 0;
}

int offers_locate(PGconn *c, const Cp__ComplaintReceived *rc, struct route_origin *o)
{
	memset(o, 0, sizeof(*o));
	snprintf(o->outlet_id, sizeof(o->outlet_id), "%s", rc->outlet_id ? rc->outlet_id : "");
	if (parcel_origin(c, rc, o) != 0)
		return -1;
	if (!o->has_location && o->outlet_id[0] && outlet_origin(c, o) != 0)
		return -1;
	if (!o->outlet_id[0] && nearest_outlet(c, o) != 0)
		return -1;
	return 0;
}

int offers_locate_from(const Cp__ComplaintReceived *rc, const struct offers_position *pos,
		       struct route_origin *o)
{
	memset(o, 0, sizeof(*o));
	snprintf(o->outlet_id, sizeof(o->outlet_id), "%s", rc->outlet_id ? rc->outlet_id : "");
	/* parcel_origin's and outlet_origin's decisions on the rows they would have read */
	if (pos->known) {
		if (!o->outlet_id[0] && strcmp(pos->facility_type, "outlet") == 0)
			snprintf(o->outlet_id, sizeof(o->outlet_id), "%s", pos->facility_id);
		o->has_location = pos->lat && pos->lon;
		o->lat = atof(pos->lat ? pos->lat : "");
		o->lon = atof(pos->lon ? pos->lon : "");
	}
	if (!o->has_location && o->outlet_id[0] && pos->outlet_lat && pos->outlet_lon) {
		o->has_location = true;
		o->lat = atof(pos->outlet_lat);
		o->lon = atof(pos->outlet_lon);
	}
	/* the nearest outlet, read for the whole set by offers_nearest_outlets */
	return o->outlet_id[0] ? 0 : 1;
}

int offers_open(PGconn *c, const Cp__ComplaintReceived *rc, const struct route_origin *o)
{
	struct asg a = {.has_origin = o->has_location, .lat = o->lat, .lon = o->lon};
	char lat[32], lon[32];
	snprintf(a.id, sizeof(a.id), "%s", rc->complaint_id);
	snprintf(a.no, sizeof(a.no), "%s", rc->complaint_no);
	snprintf(a.outlet, sizeof(a.outlet), "%s", o->outlet_id);
	snprintf(lat, sizeof(lat), "%.7f", o->lat);
	snprintf(lon, sizeof(lon), "%.7f", o->lon);
	const char *p[] = {a.id, a.no, a.outlet, a.has_origin ? "true" : "false", lat, lon};
	PGresult *res =
	    pg_query(c,
		     "INSERT INTO assignments (complaint_id, complaint_no, outlet_id, "
		     "has_origin, origin_lat, origin_lon, state) VALUES ($1::uuid, $2, $3, "
		     "$4::boolean, $5::float8, $6::float8, 'offered') ON CONFLICT DO "
		     "NOTHING RETURNING 1",
		     6, p);
	if (!res)
		return -1;
	int fresh = PQntuples(res) > 0;
	PQclear(res);
	if (!fresh)
		return 0;
	/* the person the complaint is about never sees it, not even in the first round */
	const Cp__ComplaintTarget *t = rc->target;
	if (t && conflict_target_is_staff(t->kind, t->id) &&
	    conflict_exclude(c, a.id, t->id, CONFLICT_TARGET) < 0)
		return -1;
	return offers_next_round(c, &a);
}

/* offers_open of n complaints classified now (distinct) with a constant number of
 * statements: their assignments in one insert, the candidates of all of them in one (the
 * same query per complaint, LATERAL), their exclusions in one, the offers and the round in
 * one. A complaint about a member of staff excludes that person first (per complaint, as
 * offers_open), and a complaint nobody can be offered is escalated as offers_next_round
 * would (per complaint: both are rare). The same rows and announcements as offers_open on
 * each; the announcements of one complaint in its order (across complaints the order does
 * not matter: each is keyed by its complaint). 0 or -1. */
#define OPEN_SET_SQL                                                                               \
	"WITH u AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], "         \
	"$5::text[], $6::text[]) WITH ORDINALITY AS u (id, no, outlet, has, lat, lon, ord)), "     \
	"ins AS (INSERT INTO assignments (complaint_id, complaint_no, outlet_id, has_origin, "     \
	"origin_lat, origin_lon, state) SELECT id::uuid, no, outlet, has::boolean, lat::float8, "  \
	"lon::float8, 'offered' FROM u ORDER BY ord ON CONFLICT DO NOTHING RETURNING "             \
	"complaint_id) SELECT u.ord FROM u JOIN ins ON ins.complaint_id = u.id::uuid ORDER BY "    \
	"u.ord"
#define CANDIDATES_SET_SQL                                                                         \
	"SELECT u.ord, s.staff_id, s.outlet_id, s.lat, s.lon FROM unnest($1::text[], $2::text[], " \
	"$3::text[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY AS u (id, outlet, has, "  \
	"lat, lon, lim, ord) CROSS JOIN LATERAL (SELECT staff_id, outlet_id, lat, lon, CASE WHEN " \
	"u.has::boolean THEN coalesce((lat - u.lat::float8) ^ 2 + ((lon - u.lon::float8) * "       \
	"cos(radians(u.lat::float8))) ^ 2, 1e12) ELSE 0 END AS d, (outlet_id = u.outlet) AS "      \
	"same FROM staff st WHERE available AND role IN ('agent', 'courier') AND NOT EXISTS "      \
	"(SELECT 1 FROM offers o WHERE o.complaint_id = NULLIF(u.id, '')::uuid AND o.staff_id = "  \
	"st.staff_id) AND NOT EXISTS (SELECT 1 FROM excluded_staff x WHERE x.complaint_id = "      \
	"NULLIF(u.id, '')::uuid AND x.staff_id = st.staff_id) ORDER BY d, same DESC, staff_id "    \
	"LIMIT "                                                                                   \
	"u.lim::int) s ORDER BY u.ord, s.d, s.same DESC, s.staff_id"
#define EXCLUDED_SET_SQL                                                                           \
	"SELECT u.ord, x.staff_id FROM unnest($1::text[]) WITH ORDINALITY AS u (id, ord) JOIN "    \
	"excluded_staff x ON x.complaint_id = u.id::uuid ORDER BY u.ord, x.staff_id"
#define OFFERS_SET_SQL                                                                             \
	"WITH u AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS u "    \
	"(id, staff, round, secs)), o AS (INSERT INTO offers (complaint_id, staff_id, round) "     \
	"SELECT id::uuid, staff, round::int FROM u ON CONFLICT DO NOTHING) UPDATE assignments a "  \
	"SET state = 'offered', round = x.round::int, expires_at = now() + make_interval(secs => " \
	"x.secs::int) FROM (SELECT DISTINCT id, round, secs FROM u) x WHERE a.complaint_id = "     \
	"x.id::uuid"

struct open_set {
	struct asg a;
	char lat[32], lon[32], limit[16];
	bool fresh;
	size_t cand0, ncand; /* its rows of the candidates' result */
	size_t excl0, nexcl; /* its rows of the exclusions' result */
};

/* The rows of result res (ordinal in column 0, 1-based, ascending) that belong to each item:
 * first[i] and count[i]. */
static void rows_of(const PGresult *res, struct open_set *v, size_t n, bool cand)
{
	for (int row = 0; row < PQntuples(res); row++) {
		size_t i = strtoul(PQgetvalue(res, row, 0), NULL, 10) - 1;
		size_t *first = cand ? &v[i].cand0 : &v[i].excl0,
		       *count = cand ? &v[i].ncand : &v[i].nexcl;
		if (*count == 0)
			*first = (size_t)row;
		(*count)++;
	}
}

static int open_set_insert(PGconn *c, struct open_set *v, size_t n)
{
	const char **cells = malloc(6 * n * sizeof(*cells));
	if (!cells)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const char *row[] = {v[i].a.id,	    v[i].a.no,
				     v[i].a.outlet, v[i].a.has_origin ? "true" : "false",
				     v[i].lat,	    v[i].lon};
		memcpy(cells + 6 * i, row, sizeof(row));
	}
	PGresult *res = pg_query_columns(c, "classification_open_set", OPEN_SET_SQL, 6, n, cells);
	free(cells);
	if (!res)
		return -1;
	for (int row = 0; row < PQntuples(res); row++)
		v[strtoul(PQgetvalue(res, row, 0), NULL, 10) - 1].fresh = true;
	PQclear(res);
	return 0;
}

/* The candidates and (excl not NULL) the exclusions of the fresh cases (idx: their indexes in
 * v; a case without an id: no offers or exclusions to leave out, load_candidates' NULL). */
static int open_set_read(PGconn *c, struct open_set *v, const size_t *idx, size_t m,
			 PGresult **cand, PGresult **excl)
{
	const char **cells = calloc(6 * (m ? m : 1), sizeof(*cells));
	struct open_set *w = calloc(m ? m : 1, sizeof(*w));
	int rc = -1;
	if (!cells || !w)
		goto out;
	for (size_t j = 0; j < m; j++) {
		const struct open_set *x = &v[idx[j]];
		const char *row[] = {x->a.id, x->a.outlet, x->a.has_origin ? "true" : "false",
				     x->lat,  x->lon,	   x->limit};
		memcpy(cells + 6 * j, row, sizeof(row));
	}
	*cand =
	    pg_query_columns(c, "classification_candidates_set", CANDIDATES_SET_SQL, 6, m, cells);
	for (size_t j = 0; j < m; j++)
		cells[j] = v[idx[j]].a.id;
	if (excl) /* not for nearest outlets: no case yet */
		*excl = *cand ? pg_query_columns(c, "classification_excluded_set", EXCLUDED_SET_SQL,
						 1, m, cells)
			      : NULL;
	if (!*cand || (excl && !*excl))
		goto out;
	rows_of(*cand, w, m, true);
	if (excl)
		rows_of(*excl, w, m, false);
	for (size_t j = 0; j < m; j++) {
		v[idx[j]].cand0 = w[j].cand0;
		v[idx[j]].ncand = w[j].ncand;
		v[idx[j]].excl0 = w[j].excl0;
		v[idx[j]].nexcl = w[j].nexcl;
	}
	rc = 0;
out:
	free(cells);
	free(w);
	return rc;
}

/* Offers one fresh case its first round (the rows of the candidates read for it), or escalates
 * it; the offer rows go to offers (staff_id per row) for one insert. */
static int open_set_round(PGconn *c, struct open_set *x, const PGresult *cand, const PGresult *excl,
			  const char **offers, size_t *noffers)
{
	struct candidates cl = {calloc(x->ncand ? x->ncand : 1, sizeof(*cl.v)), 0};
	size_t idx[OFFER_MAX], k = (size_t)classification_cfg.offer_size;
	char *ids[OFFER_MAX], *excluded[64];
	size_t nexcluded = 0;
	int rc = -1;
	k = k < OFFER_MAX ? k : OFFER_MAX;
	if (!cl.v)
		return -1;
	for (size_t r = x->cand0; r < x->cand0 + x->ncand; r++) {
		struct route_staff *s = &cl.v[cl.n++];
		snprintf(s->staff_id, sizeof(s->staff_id), "%s", PQgetvalue(cand, (int)r, 1));
		snprintf(s->outlet_id, sizeof(s->outlet_id), "%s", PQgetvalue(cand, (int)r, 2));
		s->has_location = !PQgetisnull(cand, (int)r, 3) && !PQgetisnull(cand, (int)r, 4);
		s->lat = atof(PQgetvalue(cand, (int)r, 3));
		s->lon = atof(PQgetvalue(cand, (int)r, 4));
	}
	size_t n = route_nearest(x->a.has_origin, x->a.lat, x->a.lon, cl.v, cl.n, k, idx);
	if (x->nexcl > sizeof(excluded) / sizeof(excluded[0])) {
		/* an unusual list: offers_next_round reads again and does the same */
		rc = offers_next_round(c, &x->a);
		goto out;
	}
	for (size_t r = x->excl0; r < x->excl0 + x->nexcl; r++)
		excluded[nexcluded++] = PQgetvalue(excl, (int)r, 1);
	if (n == 0) { /* nobody to offer it to: offers_next_round escalates */
		/* its announcement names the exclusions read for the set (escalating adds none) */
		x->a.excluded_read = true;
		x->a.excluded = excluded;
		x->a.nexcluded = nexcluded;
		rc = escalate(c, &x->a);
		goto out;
	}
	x->a.round++;
	for (size_t i = 0; i < n; i++) {
		ids[i] = cl.v[idx[i]].staff_id;
		offers[2 * (*noffers)] = x->a.id;
		/* the result's text (cl is freed before the offers are inserted) */
		offers[2 * (*noffers) + 1] = PQgetvalue(cand, (int)(x->cand0 + idx[i]), 1);
		(*noffers)++;
	}
	const struct offers_note note = {.action = "offered",
					 .ce_type = "cp.complaint.offered",
					 .staff = ids,
					 .nstaff = n,
					 .reason = why(&x->a)};
	rc = announce_listed(c, &x->a, &note, excluded, nexcluded);
out:
	free(cl.v);
	return rc;
}

int offers_open_set(PGconn *c, const Cp__ComplaintReceived *const *rcs,
		    const struct route_origin *const *origins, const char *const *ce_ids, size_t n)
{
	struct open_set *v = calloc(n ? n : 1, sizeof(*v));
	size_t *idx = malloc((n ? n : 1) * sizeof(*idx)), m = 0, k = 0, noffers = 0;
	PGresult *cand = NULL, *excl = NULL, *res = NULL;
	const char **offers = NULL, **cells = NULL;
	char round[16], secs[24];
	int rc = -1;
	if (!v || !idx)
		goto out;
	k = (size_t)classification_cfg.offer_size;
	k = k < OFFER_MAX ? k : OFFER_MAX;
	for (size_t i = 0; i < n; i++) {
		struct open_set *x = &v[i];
		x->a.has_origin = origins[i]->has_location;
		x->a.lat = origins[i]->lat;
		x->a.lon = origins[i]->lon;
		snprintf(x->a.id, sizeof(x->a.id), "%s", rcs[i]->complaint_id);
		snprintf(x->a.no, sizeof(x->a.no), "%s", rcs[i]->complaint_no);
		snprintf(x->a.outlet, sizeof(x->a.outlet), "%s", origins[i]->outlet_id);
		snprintf(x->lat, sizeof(x->lat), "%.7f", origins[i]->lat);
		snprintf(x->lon, sizeof(x->lon), "%.7f", origins[i]->lon);
		snprintf(x->limit, sizeof(x->limit), "%zu", k * CANDIDATES_PER_PICK);
	}
	if (n == 0 || open_set_insert(c, v, n) != 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const Cp__ComplaintTarget *t = rcs[i]->target;
		if (!v[i].fresh)
			continue;
		idx[m++] = i;
		/* the person the complaint is about never sees it, not even in the first round */
		if (t && conflict_target_is_staff(t->kind, t->id) &&
		    conflict_exclude(c, v[i].a.id, t->id, CONFLICT_TARGET) < 0)
			goto out;
	}
	if (m == 0) {
		rc = 0;
		goto out;
	}
	offers = malloc(2 * m * OFFER_MAX * sizeof(*offers));
	if (!offers || open_set_read(c, v, idx, m, &cand, &excl) != 0)
		goto out;
	for (size_t j = 0; j < m; j++) {
		/* its log lines name its event, as on the one-event path */
		log_context_set("ce_id", ce_ids[idx[j]]);
		int failed = open_set_round(c, &v[idx[j]], cand, excl, offers, &noffers);
		log_context_set("ce_id", NULL);
		if (failed)
			goto out;
	}
	rc = 0;
	if (noffers == 0)
		goto out;
	/* every first round is round 1 (offers_next_round: 0 + 1) */
	snprintf(round, sizeof(round), "%d", 1);
	snprintf(secs, sizeof(secs), "%lld", classification_cfg.offer_timeout_s);
	cells = malloc(4 * noffers * sizeof(*cells));
	rc = -1;
	if (!cells)
		goto out;
	for (size_t i = 0; i < noffers; i++) {
		const char *row[] = {offers[2 * i], offers[2 * i + 1], round, secs};
		memcpy(cells + 4 * i, row, sizeof(row));
	}
	res = pg_query_columns(c, "classification_offers_set", OFFERS_SET_SQL, 4, noffers, cells);
	rc = res ? 0 : -1;
out:
	PQclear(res);
	PQclear(cand);
	PQclear(excl);
	free(cells);
	free(offers);
	free(idx);
	free(v);
	return rc;
}

int offers_nearest_outlets(PGconn *c, struct route_origin *const *os, size_t n)
{
	struct open_set *v = calloc(n ? n : 1, sizeof(*v));
	size_t *idx = malloc((n ? n : 1) * sizeof(*idx));
	PGresult *cand = NULL;
	int rc = -1;
	if (!v || !idx)
		goto out;
	if (n == 0) {
		rc = 0;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		idx[i] = i;
		v[i].a.has_origin = os[i]->has_location;
		snprintf(v[i].lat, sizeof(v[i].lat), "%.7f", os[i]->lat);
		snprintf(v[i].lon, sizeof(v[i].lon), "%.7f", os[i]->lon);
		snprintf(v[i].limit, sizeof(v[i].limit), "%d", CANDIDATES_PER_PICK);
	}
	if (open_set_read(c, v, idx, n, &cand, NULL) != 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct candidates cl = {calloc(v[i].ncand ? v[i].ncand : 1, sizeof(*cl.v)), 0};
		size_t pick[1];
		if (!cl.v)
			goto out;
		for (size_t r = v[i].cand0; r < v[i].cand0 + v[i].ncand; r++) {
			struct route_staff *s = &cl.v[cl.n++];
			snprintf(s->staff_id, sizeof(s->staff_id), "%s",
				 PQgetvalue(cand, (int)r, 1));
			snprintf(s->outlet_id, sizeof(s->outlet_id), "%s",
				 PQgetvalue(cand, (int)r, 2));
			s->has_location =
			    !PQgetisnull(cand, (int)r, 3) && !PQgetisnull(cand, (int)r, 4);
			s->lat = atof(PQgetvalue(cand, (int)r, 3));
			s->lon = atof(PQgetvalue(cand, (int)r, 4));
		}
		/* nearest_outlet's choice */
		if (route_nearest(os[i]->has_location, os[i]->lat, os[i]->lon, cl.v, cl.n, 1,
				  pick) == 1)
			snprintf(os[i]->outlet_id, sizeof(os[i]->outlet_id), "%s",
				 cl.v[pick[0]].outlet_id);
		free(cl.v);
	}
	rc = 0;
out:
	PQclear(cand);
	free(idx);
	free(v);
	return rc;
}

/* --- the sweep: expired offers go to the next round or are escalated --- */

#define CASE_COLUMNS                                                                               \
	"SELECT complaint_id, complaint_no, outlet_id, has_origin, coalesce(origin_lat, 0), "      \
	"coalesce(origin_lon, 0), round, state, coalesce(owner_staff_id, ''), escalation_level "   \
	"FROM assignments "

/* clang-format off */
#define DUE_SQL CASE_COLUMNS \
	"WHERE state = 'offered' AND expires_at <= now() ORDER BY expires_at LIMIT 1 " \
	"FOR UPDATE SKIP LOCKED"
/* clang-format on */

static void case_read(PGresult *res, struct asg *a)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->id, sizeof(a->id), "%s", PQgetvalue(res, 0, 0));
	snprintf(a->no, sizeof(a->no), "%s", PQgetvalue(res, 0, 1));
	snprintf(a->outlet, sizeof(a->outlet), "%s", PQgetvalue(res, 0, 2));
	a->has_origin = PQgetvalue(res, 0, 3)[0] == 't';
	a->lat = atof(PQgetvalue(res, 0, 4));
	a->lon = atof(PQgetvalue(res, 0, 5));
	a->round = atoi(PQgetvalue(res, 0, 6));
	snprintf(a->state, sizeof(a->state), "%s", PQgetvalue(res, 0, 7));
	snprintf(a->owner, sizeof(a->owner), "%s", PQgetvalue(res, 0, 8));
	a->level = atoi(PQgetvalue(res, 0, 9));
}

int offers_case_load(PGconn *c, const char *key, bool by_no, struct asg *a)
{
	const char *p[] = {key};
	PGresult *res = pg_query(c,
				 by_no ? CASE_COLUMNS "WHERE complaint_no = $1 FOR UPDATE"
				       : CASE_COLUMNS "WHERE complaint_id = $1::uuid FOR UPDATE",
				 1, p);
	if (!res)
		return -1;
	int found = PQntuples(res) > 0;
	if (found)
		case_read(res, a);
	PQclear(res);
	return found;
}

static int sweep_one(PGconn *c)
{
	PGresult *res = pg_query(c, DUE_SQL, 0, NULL);
	if (!res)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return 0;
	}
	struct asg a;
	case_read(res, &a);
	PQclear(res);
	int rc =
	    a.round < classification_cfg.offer_rounds ? offers_next_round(c, &a) : escalate(c, &a);
	return rc == 0 ? 1 : -1;
}

int offers_sweep(PGconn *c, void *arg)
{
	if (pg_begin(c) != 0)
		return -1;
	int rc = sweep_one(c);
	if (rc < 0 || pg_commit(c) != 0) {
		pg_rollback(c);
		return -1;
	}
	return rc;
}

/* --- POST /v1/complaints/{no}/accept --- */

enum accept_result {
	ACCEPT_OK,
	ACCEPT_MINE,
	ACCEPT_TAKEN,
	ACCEPT_NOT_OFFERED,
	ACCEPT_UNKNOWN,
	ACCEPT_CONFLICT
};

static int was_offered(PGconn *c, const char *complaint_id, const char *staff_id)
{
	const char *o[] = {complaint_id, staff_id};
	PGresult *res = pg_query(
	    c, "SELECT 1 FROM offers WHERE complaint_id = $1::uuid AND staff_id = $2", 2, o);
	if (!res)
		return -1;
	int offered = PQntuples(res) > 0;
	PQclear(res);
	return offered;
}

static int accept_tx(PGconn *c, const char *no, const char *staff_id, struct asg *a, char *owner,
		     size_t cap)
{
	int found = offers_case_load(c, no, true, a);
	if (found <= 0)
		return found < 0 ? -1 : ACCEPT_UNKNOWN;
	snprintf(owner, cap, "%s", a->owner);
	/* checked first: an excluded person learns why, whatever the state of the case */
	int excluded = conflict_is_excluded(c, a->id, staff_id);
	if (excluded != 0)
		return excluded < 0 ? -1 : ACCEPT_CONFLICT;
	if (strcmp(a->state, "accepted") == 0)
		return strcmp(owner, staff_id) == 0 ? ACCEPT_MINE : ACCEPT_TAKEN;
	int offered = was_offered(c, a->id, staff_id);
	if (offered <= 0)
		return offered < 0 ? -1 : ACCEPT_NOT_OFFERED;
	const char *o[] = {a->id, staff_id};
	if (pg_exec(c,
		    "UPDATE assignments SET state = 'accepted', owner_staff_id = $2, accepted_at = "
		    "now(), expires_at = NULL WHERE complaint_id = $1::uuid",
		    2, o) != 0)
		return -1;
	snprintf(owner, cap, "%s", staff_id);
	const struct offers_note n = {.action = "accepted",
				      .ce_type = "cp.complaint.assigned",
				      .owner = staff_id,
				      .actor = staff_id};
	return offers_announce(c, a, &n) == 0 ? ACCEPT_OK : -1;
}

static void accept_reply(struct http_req *r, int rc, const char *no, const char *owner)
{
	if (rc < 0)
		http_reply_error(r, 503, "unavailable", "the offer could not be accepted; retry");
	else if (rc == ACCEPT_UNKNOWN)
		http_reply_error(r, 404, "not_found", "no open offer for this complaint number");
	else if (rc == ACCEPT_CONFLICT)
		http_reply_error(r, 403, "conflict_of_interest",
				 "this complaint is about you, or the evidence names you as "
				 "responsible: someone else handles it");
	else if (rc == ACCEPT_NOT_OFFERED)
		http_reply_error(r, 403, "not_offered", "this complaint was not offered to you");
	else if (rc == ACCEPT_TAKEN)
		http_reply_error(r, 409, "already_accepted",
				 "another member of staff accepted this complaint first");
	else
		http_reply_json(r, 200,
				json_pack("{s:s, s:s, s:b}", "complaint_no", no, "owner_staff_id",
					  owner, "already_yours", rc == ACCEPT_MINE));
}

void offers_accept(struct http_req *r, void *arg)
{
	struct auth_principal who;
	if (auth_caller(r, &who) != 0)
		return;
	struct asg a;
	char owner[64] = "";
	int rc = pg_begin(r->db);
	if (rc == 0)
		rc = accept_tx(r->db, r->params[0], who.staff_id, &a, owner, sizeof(owner));
	if (rc == ACCEPT_OK && pg_commit(r->db) != 0)
		rc = -1;
	if (rc != ACCEPT_OK)
		pg_rollback(r->db);
	accept_reply(r, rc, r->params[0], owner);
}

/* --- GET /v1/offers/mine --- */

#define MINE_SQL                                                                                   \
	"SELECT a.complaint_no, o.round, a.state, c.category, c.subcategory, c.urgency, "          \
	"c.priority, to_char(o.offered_at AT TIME ZONE 'UTC', "                                    \
	"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), to_char(a.expires_at AT TIME ZONE 'UTC', "             \
	"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM offers o JOIN assignments a USING "                \
	"(complaint_id) LEFT JOIN classifications c USING (complaint_id) WHERE o.staff_id = $1 "   \
	"AND a.state <> 'accepted' AND NOT EXISTS (SELECT 1 FROM excluded_staff x WHERE "          \
	"x.complaint_id = o.complaint_id AND x.staff_id = o.staff_id) ORDER BY c.priority NULLS "  \
	"LAST, o.offered_at LIMIT 200"

static json_t *mine_row(PGresult *res, int i)
{
	json_t *j =
	    json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:i, s:s}", "complaint_no",
		      PQgetvalue(res, i, 0), "round", atoi(PQgetvalue(res, i, 1)), "state",
		      PQgetvalue(res, i, 2), "category", PQgetvalue(res, i, 3), "subcategory",
		      PQgetvalue(res, i, 4), "urgency", PQgetvalue(res, i, 5), "priority",
		      atoi(PQgetvalue(res, i, 6)), "offered_at", PQgetvalue(res, i, 7));
	json_object_set_new(j, "expires_at",
			    PQgetisnull(res, i, 8) ? json_null()
						   : json_string(PQgetvalue(res, i, 8)));
	return j;
}

void offers_mine(struct http_req *r, void *arg)
{
	struct auth_principal who;
	if (auth_caller(r, &who) != 0)
		return;
	const char *p[] = {who.staff_id};
	PGresult *res = pg_query(r->db, MINE_SQL, 1, p);
	if (!res) {
		http_reply_error(r, 503, "unavailable", "the offers could not be read; retry");
		return;
	}
	json_t *arr = json_array();
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(arr, mine_row(res, i));
	PQclear(res);
	http_reply_json(r, 200, json_pack("{s:s, s:o}", "staff_id", who.staff_id, "offers", arr));
}
