/* The staff registry: who can take complaints, at which outlet, where they are and whether
 * they are available. GET /v1/staff-registry[?outlet_id=] (supervisor, admin) and
 * PUT /v1/staff-registry/{staff_id} (admin) to add or change one member. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "auth.h"
#include "classification.h"
#include "pg.h"
#include "textreview.h"

static json_t *coord(PGresult *res, int i, int col)
{
	return PQgetisnull(res, i, col) ? json_null() : json_real(atof(PQgetvalue(res, i, col)));
}

void registry_get(struct http_req *r, void *arg)
{
	char *outlet = http_req_query(r, "outlet_id");
	const char *p[] = {outlet};
	PGresult *res =
	    pg_query(r->db,
		     "SELECT staff_id, outlet_id, role, lat, lon, available, region_id, first_name "
		     "FROM staff "
		     "WHERE $1::text IS NULL OR outlet_id = $1 ORDER BY outlet_id, staff_id",
		     1, p);
	free(outlet);
	if (!res) {
		http_reply_error(r, 503, "unavailable", "the registry could not be read; retry");
		return;
	}
	json_t *arr = json_array();
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(
		    arr, json_pack("{s:s, s:s, s:s, s:o, s:o, s:b, s:o, s:s}", "staff_id",
				   PQgetvalue(res, i, 0), "outlet_id", PQgetvalue(res, i, 1),
				   "role", PQgetvalue(res, i, 2), "lat", coord(res, i, 3), "lon",
				   coord(res, i, 4), "available", PQgetvalue(res, i, 5)[0] == 't',
				   "region_id",
				   PQgetisnull(res, i, 6) ? json_null()
							  : json_string(PQgetvalue(res, i, 6)),
				   "first_name", PQgetvalue(res, i, 7)));
	PQclear(res);
	http_reply_json(r, 200, json_pack("{s:o}", "staff", arr));
}

static void bad(json_t *errors, const char *field, const char *problem)
{
	json_array_append_new(errors, json_pack("{s:s, s:s}", "field", field, "problem", problem));
}

bool registry_first_name_valid(const char *s)
{
	size_t chars = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p == 0x7f || (*p >= '0' && *p <= '9') || *p == '@')
			return false;
		chars += (*p & 0xc0) != 0x80;
	}
	return chars >= 1 && chars <= 20 && http_utf8_valid(s, strlen(s));
}

static bool staff_id_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 60)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return false;
	return true;
}

/* Latitude/longitude: both or neither; in range. Writes text for SQL or NULL. */
static void parse_coords(const json_t *body, char *lat, char *lon, size_t cap, bool *has,
			 json_t *errors)
{
	const json_t *a = json_object_get(body, "lat"), *o = json_object_get(body, "lon");
	*has = false;
	if ((!a || json_is_null(a)) && (!o || json_is_null(o)))
		return;
	if (!json_is_number(a) || !json_is_number(o) || fabs(json_number_value(a)) > 90 ||
	    fabs(json_number_value(o)) > 180) {
		bad(errors, "lat/lon",
		    "must both be numbers: latitude -90..90, longitude -180..180");
		return;
	}
	snprintf(lat, cap, "%.7f", json_number_value(a));
	snprintf(lon, cap, "%.7f", json_number_value(o));
	*has = true;
}

void registry_put(struct http_req *r, void *arg)
{
	static const char *const roles[] = {"agent", "courier", "outlet_manager",
					    "regional_supervisor", "hq"};
	struct auth_principal who;
	int failed = 0;
	json_t *before = NULL;
	if (auth_caller(r, &who) != 0)
		return;
	json_t *body = http_req_json(r);
	if (!body)
		return;
	json_t *errors = json_array();
	const char *id = r->params[0];
	const json_t *outlet = json_object_get(body, "outlet_id"),
		     *role = json_object_get(body, "role"),
		     *avail = json_object_get(body, "available"),
		     *region = json_object_get(body, "region_id"),
		     *first = json_object_get(body, "first_name");
	char lat[32], lon[32];
	bool has;
	if (!staff_id_valid(id))
		bad(errors, "staff_id", "must be 1 to 60 printable ASCII characters");
	if (!json_is_string(outlet) || !staff_id_valid(json_string_value(outlet)))
		bad(errors, "outlet_id", "is required (1 to 60 printable ASCII characters)");
	int k = 0;
	while (k < 5 && !(json_is_string(role) && strcmp(json_string_value(role), roles[k]) == 0))
		k++;
	if (k == 5)
		bad(errors, "role",
		    "must be agent, courier, outlet_manager, regional_supervisor or hq");
	if (region && !json_is_null(region) &&
	    !(json_is_string(region) && staff_id_valid(json_string_value(region))))
		bad(errors, "region_id", "must be 1 to 60 printable ASCII characters, or null");
	/* a regional supervisor without a region could never be named: say so now */
	else if (k == 3 && !json_is_string(region))
		bad(errors, "region_id", "is required for a regional_supervisor (the region)");
	/* shown to customers: a short name, no digits (never a phone number or a staff id) */
	if (first && !json_is_null(first) &&
	    !(json_is_string(first) && registry_first_name_valid(json_string_value(first))))
		bad(errors, "first_name", "must be 1 to 20 characters without digits, or null");
	if (avail && !json_is_boolean(avail))
		bad(errors, "available", "must be true or false");
	parse_coords(body, lat, lon, sizeof(lat), &has, errors);
	if (json_array_size(errors) > 0) {
		http_reply_fields(r, 422, "validation_failed", errors);
		errors = NULL;
		goto out;
	}
	const char *p[] = {id,
			   json_string_value(outlet),
			   roles[k],
			   has ? lat : NULL,
			   has ? lon : NULL,
			   !avail || json_is_true(avail) ? "true" : "false",
			   json_is_string(region) ? json_string_value(region) : NULL,
			   region ? "true" : "false",
			   json_is_string(first) ? json_string_value(first) : "",
			   first ? "true" : "false"};
	/* region_id absent (not null) keeps the stored one: older clients never send it */
	if (pg_begin(r->db) != 0 ||
	    (before = audit_snapshot(
		 r->db, "SELECT row_to_json(s) FROM staff s WHERE staff_id = $1", 1, p, &failed),
	     failed) ||
	    audit_record(r->db, who.staff_id, "staff", id, before, body) != 0 ||
	    pg_exec(
		r->db,
		"INSERT INTO staff (staff_id, outlet_id, role, lat, lon, available, region_id, "
		"first_name) VALUES ($1, $2, $3, $4::float8, $5::float8, $6::boolean, $7, $9) ON "
		"CONFLICT (staff_id) DO UPDATE SET outlet_id = $2, role = $3, lat = $4::float8, "
		"lon = $5::float8, available = $6::boolean, region_id = CASE WHEN $8::boolean THEN "
		"$7 ELSE staff.region_id END, first_name = CASE WHEN $10::boolean THEN $9 ELSE "
		"staff.first_name END, updated_at = now()",
		10, p) != 0 ||
	    pg_commit(r->db) != 0)
		http_reply_db_error(r);
	else
		http_reply_json(r, 200,
				json_pack("{s:s, s:s, s:s, s:b}", "staff_id", id, "outlet_id",
					  json_string_value(outlet), "role", roles[k], "available",
					  !avail || json_is_true(avail)));
out:
	json_decref(before);
	json_decref(errors);
	json_decref(body);
}

/* --- GET /v1/complaints/{no}/classification (agent, supervisor, admin) --- */

#define CASE_SQL                                                                                   \
	"SELECT c.category, c.subcategory, c.stated_type, c.text_category, c.text_subcategory, "   \
	"array_to_json(c.keywords)::text, c.choice_reason, c.urgency, c.severity, c.tier, "        \
	"c.priority, c.sla_policy, c.first_response_s, c.verification_s, c.resolution_s, "         \
	"c.regulatory_s, array_to_json(c.pausable_clocks)::text, c.scenario, "                     \
	"coalesce(a.outlet_id, ''), coalesce(a.state, ''), coalesce(a.owner_staff_id, ''), "       \
	"coalesce(a.round, 0), (SELECT coalesce(json_agg(o.staff_id ORDER BY o.round, "            \
	"o.offered_at, o.staff_id), '[]')::text FROM offers o WHERE o.complaint_id = "             \
	"c.complaint_id), c.accept_s, c.whole_cycle_s, c.next_update_s, "                          \
	"array_to_json(c.working_time_clocks)::text, c.calendar, coalesce(a.escalation_level, "    \
	"0), "                                                                                     \
	"(SELECT coalesce(json_agg(x.staff_id ORDER BY x.staff_id), '[]')::text FROM "             \
	"excluded_staff x WHERE x.complaint_id = c.complaint_id) FROM classifications c LEFT "     \
	"JOIN assignments a USING (complaint_id) WHERE c.complaint_no = $1"

static json_t *text_json(PGresult *res, int col)
{
	json_t *j = json_loads(PQgetvalue(res, 0, col), 0, NULL);
	return j ? j : json_array();
}

static json_t *int_or_null(PGresult *res, int col)
{
	return PQgetisnull(res, 0, col) ? json_null()
					: json_integer(atoll(PQgetvalue(res, 0, col)));
}

/* The clocks that time people (NULL for complaints classified before they existed). */
static void people_clocks(json_t *sla, PGresult *res)
{
	json_object_set_new(sla, "accept_s", int_or_null(res, 23));
	json_object_set_new(sla, "whole_cycle_s", int_or_null(res, 24));
	json_object_set_new(sla, "next_update_s", int_or_null(res, 25));
	json_object_set_new(sla, "working_time_clocks", text_json(res, 26));
	json_object_set_new(sla, "calendar", json_string(PQgetvalue(res, 0, 27)));
}

static json_t *case_json(PGresult *res)
{
	json_t *j =
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:s, s:s, s:i, s:s, s:s}",
		      "category", PQgetvalue(res, 0, 0), "subcategory", PQgetvalue(res, 0, 1),
		      "stated_type", PQgetvalue(res, 0, 2), "text_category", PQgetvalue(res, 0, 3),
		      "text_subcategory", PQgetvalue(res, 0, 4), "keywords", text_json(res, 5),
		      "choice_reason", PQgetvalue(res, 0, 6), "urgency", PQgetvalue(res, 0, 7),
		      "severity", PQgetvalue(res, 0, 8), "tier", PQgetvalue(res, 0, 9), "priority",
		      atoi(PQgetvalue(res, 0, 10)), "sla_policy", PQgetvalue(res, 0, 11),
		      "scenario", PQgetvalue(res, 0, 17));
	json_t *sla = json_pack("{s:I, s:I, s:I, s:I, s:o}", "first_response_s",
				(json_int_t)atoll(PQgetvalue(res, 0, 12)), "verification_s",
				(json_int_t)atoll(PQgetvalue(res, 0, 13)), "resolution_s",
				(json_int_t)atoll(PQgetvalue(res, 0, 14)), "regulatory_s",
				(json_int_t)atoll(PQgetvalue(res, 0, 15)), "pausable_clocks",
				text_json(res, 16));
	people_clocks(sla, res);
	json_object_set_new(j, "sla", sla);
	json_object_set_new(
	    j, "routing",
	    json_pack("{s:s, s:s, s:s, s:i, s:o, s:i, s:o}", "outlet_id", PQgetvalue(res, 0, 18),
		      "state", PQgetvalue(res, 0, 19), "owner_staff_id", PQgetvalue(res, 0, 20),
		      "round", atoi(PQgetvalue(res, 0, 21)), "offered_to", text_json(res, 22),
		      "escalation_level", atoi(PQgetvalue(res, 0, 28)), "excluded_staff_ids",
		      text_json(res, 29)));
	return j;
}

void registry_get_classification(struct http_req *r, void *arg)
{
	const char *p[] = {r->params[0]};
	PGresult *res = pg_query(r->db, CASE_SQL, 1, p);
	if (!res)
		http_reply_error(r, 503, "unavailable",
				 "the classification could not be read; retry");
	else if (PQntuples(res) == 0)
		http_reply_error(r, 404, "not_found",
				 "no classification for this complaint number");
	else
		http_reply_json(r, 200, textreview_decorated(r->db, r->params[0], case_json(res)));
	PQclear(res);
}
