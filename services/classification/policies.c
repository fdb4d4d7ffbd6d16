/* SLA policies (classification.sla_policies), the VIP list and the first-response
 * templates: data an operator changes. GET/PUT /v1/sla-policies (supervisor, admin). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "auth.h"
#include "classification.h"
#include "pg.h"

#define CHOOSE_SQL                                                                                 \
	"SELECT name, first_response_s, verification_s, resolution_s, regulatory_s, "              \
	"array_to_string(pausable_clocks, ','), accept_s, whole_cycle_s, next_update_s, "          \
	"array_to_string(working_time_clocks, ','), calendar FROM sla_policies WHERE "             \
	"name = (SELECT policy FROM channel_policies WHERE channel = $5) OR ("                     \
	"(category IS NULL OR category = $1) AND (subcategory IS NULL OR subcategory = $2) "       \
	"AND (urgency IS NULL OR urgency = $3) AND (tier IS NULL OR tier = $4)) "                  \
	"ORDER BY name = (SELECT policy FROM channel_policies WHERE channel = $5) DESC NULLS "     \
	"LAST, rank, name LIMIT 1"

#define LIST_SQL                                                                                   \
	"SELECT name, rank, category, subcategory, urgency, tier, first_response_s, "              \
	"verification_s, resolution_s, regulatory_s, array_to_string(pausable_clocks, ','), "      \
	"accept_s, whole_cycle_s, next_update_s, array_to_string(working_time_clocks, ','), "      \
	"calendar FROM sla_policies ORDER BY rank, name"

static const char *const clocks[] = {"first_response", "verification", "resolution"};
/* Every clock but regulatory may run on a working calendar: the regulatory limit counts
 * calendar days by law. */
static const char *const working_clocks[] = {"accept",	   "first_response", "verification",
					     "resolution", "whole_cycle",    "next_update"};

#define POLICY_DEFAULT_ACCEPT_S	     300
#define POLICY_DEFAULT_WHOLE_CYCLE_S 86400
#define POLICY_DEFAULT_CALENDAR	     "cn-mainland"

static void split_working(const char *csv, struct sla_policy *out)
{
	char buf[160], *save = NULL;
	snprintf(buf, sizeof(buf), "%s", csv);
	out->nworking = 0;
	for (char *t = strtok_r(buf, ",", &save); t && out->nworking < POLICY_MAX_WORKING_CLOCKS;
	     t = strtok_r(NULL, ",", &save))
		snprintf(out->working[out->nworking++], sizeof(out->working[0]), "%s", t);
}

/* next_update_s NULL in the table: the service's NEXT_UPDATE_SECONDS. */
static long long next_update_of(PGresult *res, int i, int col)
{
	return PQgetisnull(res, i, col) ? classification_cfg.next_update_s
					: atoll(PQgetvalue(res, i, col));
}

static void split_clocks(const char *csv, struct sla_policy *out)
{
	char buf[128], *save = NULL;
	snprintf(buf, sizeof(buf), "%s", csv);
	out->npausable = 0;
	for (char *t = strtok_r(buf, ",", &save); t && out->npausable < POLICY_MAX_CLOCKS;
	     t = strtok_r(NULL, ",", &save))
		snprintf(out->pausable[out->npausable++], sizeof(out->pausable[0]), "%s", t);
}

static void defaults(struct sla_policy *out)
{
	snprintf(out->name, sizeof(out->name), "default");
	out->first_response_s = classification_cfg.first_response_s;
	out->verification_s = classification_cfg.verification_s;
	out->resolution_s = classification_cfg.resolution_s;
	out->regulatory_s = classification_cfg.regulatory_s;
	split_clocks("verification,resolution", out);
	out->accept_s = POLICY_DEFAULT_ACCEPT_S;
	out->whole_cycle_s = POLICY_DEFAULT_WHOLE_CYCLE_S;
	out->next_update_s = classification_cfg.next_update_s;
	out->nworking = 0;
	snprintf(out->calendar, sizeof(out->calendar), "%s", POLICY_DEFAULT_CALENDAR);
}

void policy_from_row(const PGresult *res, int row, int col, struct sla_policy *out)
{
	defaults(out);
	if (row >= PQntuples(res) || PQgetisnull(res, row, col))
		return;
	snprintf(out->name, sizeof(out->name), "%s", PQgetvalue(res, row, col));
	out->first_response_s = atoll(PQgetvalue(res, row, col + 1));
	out->verification_s = atoll(PQgetvalue(res, row, col + 2));
	out->resolution_s = atoll(PQgetvalue(res, row, col + 3));
	out->regulatory_s = atoll(PQgetvalue(res, row, col + 4));
	split_clocks(PQgetvalue(res, row, col + 5), out);
	out->accept_s = atoll(PQgetvalue(res, row, col + 6));
	out->whole_cycle_s = atoll(PQgetvalue(res, row, col + 7));
	out->next_update_s = next_update_of((PGresult *)res, row, col + 8);
	split_working(PQgetvalue(res, row, col + 9), out);
	snprintf(out->calendar, sizeof(out->calendar), "%s", PQgetvalue(res, row, col + 10));
}

int policy_choose(PGconn *c, const char *channel, const struct classify_result *r,
		  struct sla_policy *out)
{
	const char *p[] = {r->category, r->subcategory, r->urgency, r->tier,
			   channel ? channel : ""};
	PGresult *res = pg_query(c, CHOOSE_SQL, 5, p);
	if (!res)
		return -1;
	policy_from_row(res, 0, 0, out);
	PQclear(res);
	return 0;
}

/* CHOOSE_SQL and policy_template's statement for every row of a set (LATERAL per row, the
 * same WHERE and ORDER BY), so a set chooses what the one-event path chooses. */
#define CHOOSE_SET_SQL                                                                             \
	"SELECT p.name, p.first_response_s, p.verification_s, p.resolution_s, p.regulatory_s, "    \
	"p.pc, p.accept_s, p.whole_cycle_s, p.next_update_s, p.wc, p.calendar, t.body FROM "       \
	"unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], "          \
	"$7::text[]) WITH ORDINALITY AS u (cat, sub, urg, tier, ch, sc, lang, ord) LEFT JOIN "     \
	"LATERAL (SELECT name, first_response_s, verification_s, resolution_s, regulatory_s, "     \
	"array_to_string(pausable_clocks, ',') AS pc, accept_s, whole_cycle_s, next_update_s, "    \
	"array_to_string(working_time_clocks, ',') AS wc, calendar FROM sla_policies WHERE "       \
	"name = (SELECT policy FROM channel_policies WHERE channel = u.ch) OR ("                   \
	"(category IS NULL OR category = u.cat) AND (subcategory IS NULL OR subcategory = u.sub) " \
	"AND (urgency IS NULL OR urgency = u.urg) AND (tier IS NULL OR tier = u.tier)) "           \
	"ORDER BY name = (SELECT policy FROM channel_policies WHERE channel = u.ch) DESC NULLS "   \
	"LAST, rank, name LIMIT 1) p ON true LEFT JOIN LATERAL (SELECT body FROM "                 \
	"response_templates WHERE scenario = u.sc AND language IN (u.lang, 'zh-CN') ORDER BY "     \
	"(language = u.lang) DESC LIMIT 1) t ON true ORDER BY u.ord"

PGresult *policy_choose_set(PGconn *c, const char *const *cells, size_t n)
{
	return pg_query_columns(c, "classification_choose_set", CHOOSE_SET_SQL, 7, n, cells);
}

int policy_is_vip(PGconn *c, const char *customer_ref)
{
	const char *p[] = {customer_ref};
	PGresult *res = pg_query(c, "SELECT 1 FROM vip_customers WHERE customer_ref = $1", 1, p);
	if (!res)
		return -1;
	int vip = PQntuples(res) > 0;
	PQclear(res);
	return vip;
}

const char *policy_template(PGconn *c, const char *scenario, const char *language, PGresult **res)
{
	const char *p[] = {scenario, language};
	*res = pg_query(c,
			"SELECT body FROM response_templates WHERE scenario = $1 AND language IN "
			"($2, 'zh-CN') ORDER BY (language = $2) DESC LIMIT 1",
			2, p);
	if (!*res || PQntuples(*res) == 0)
		return NULL;
	return PQgetvalue(*res, 0, 0);
}

static json_t *opt(PGresult *res, int i, int col)
{
	return PQgetisnull(res, i, col) ? json_null() : json_string(PQgetvalue(res, i, col));
}

/* The clocks that time people, added to a policy's JSON. */
static void people_clocks_json(json_t *j, PGresult *res, int i)
{
	json_t *working = json_array();
	struct sla_policy p;
	split_working(PQgetvalue(res, i, 14), &p);
	for (int k = 0; k < p.nworking; k++)
		json_array_append_new(working, json_string(p.working[k]));
	json_object_set_new(j, "accept_s", json_integer(atoll(PQgetvalue(res, i, 11))));
	json_object_set_new(j, "whole_cycle_s", json_integer(atoll(PQgetvalue(res, i, 12))));
	json_object_set_new(j, "next_update_s",
			    PQgetisnull(res, i, 13) ? json_null()
						    : json_integer(atoll(PQgetvalue(res, i, 13))));
	json_object_set_new(j, "working_time_clocks", working);
	json_object_set_new(j, "calendar", json_string(PQgetvalue(res, i, 15)));
}

static json_t *policy_json(PGresult *res, int i)
{
	json_t *pausable = json_array();
	struct sla_policy p;
	split_clocks(PQgetvalue(res, i, 10), &p);
	for (int k = 0; k < p.npausable; k++)
		json_array_append_new(pausable, json_string(p.pausable[k]));
	json_t *j = json_pack(
	    "{s:s, s:i, s:o, s:o, s:o, s:o, s:I, s:I, s:I, s:I, s:o}", "name",
	    PQgetvalue(res, i, 0), "rank", atoi(PQgetvalue(res, i, 1)), "category", opt(res, i, 2),
	    "subcategory", opt(res, i, 3), "urgency", opt(res, i, 4), "tier", opt(res, i, 5),
	    "first_response_s", (json_int_t)atoll(PQgetvalue(res, i, 6)), "verification_s",
	    (json_int_t)atoll(PQgetvalue(res, i, 7)), "resolution_s",
	    (json_int_t)atoll(PQgetvalue(res, i, 8)), "regulatory_s",
	    (json_int_t)atoll(PQgetvalue(res, i, 9)), "pausable_clocks", pausable);
	people_clocks_json(j, res, i);
	return j;
}

void policies_get(struct http_req *r, void *arg)
{
	PGresult *res = pg_query(r->db, LIST_SQL, 0, NULL);
	if (!res) {
		http_reply_error(r, 503, "unavailable", "the policies could not be read; retry");
		return;
	}
	json_t *arr = json_array();
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(arr, policy_json(res, i));
	PQclear(res);
	http_reply_json(r, 200, json_pack("{s:o}", "policies", arr));
}

/* --- PUT: replace the table --- */

struct policy_row {
	const char *name, *category, *subcategory, *urgency, *tier;
	long long rank, secs[4];
	char pausable[128]; /* {a,b} */
	long long accept_s, whole_cycle_s;
	char next_update_s[24]; /* "" : NULL, the service's NEXT_UPDATE_SECONDS */
	char working[160];	/* {a,b} */
	const char *calendar;
};

static void bad(json_t *errors, const char *prefix, const char *field, const char *problem)
{
	char f[96];
	snprintf(f, sizeof(f), "%s.%s", prefix, field);
	json_array_append_new(errors, json_pack("{s:s, s:s}", "field", f, "problem", problem));
}

static const char *opt_enum(const json_t *o, const char *key, const char *const *set,
			    const char *prefix, json_t *errors)
{
	const json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v))
		return NULL;
	for (; json_is_string(v) && *set; set++)
		if (strcmp(json_string_value(v), *set) == 0)
			return *set;
	bad(errors, prefix, key, "unknown value");
	return NULL;
}

static const char *opt_subcategory(const json_t *o, const char *category, const char *prefix,
				   json_t *errors)
{
	const json_t *v = json_object_get(o, "subcategory");
	if (!v || json_is_null(v))
		return NULL;
	const char *cat = json_is_string(v) ? classify_category_of(json_string_value(v)) : NULL;
	if (!cat || (category && strcmp(cat, category) != 0)) {
		bad(errors, prefix, "subcategory", "unknown, or not in the category");
		return NULL;
	}
	return json_string_value(v);
}

static void parse_pausable(const json_t *o, struct policy_row *p, const char *prefix,
			   json_t *errors)
{
	const json_t *arr = json_object_get(o, "pausable_clocks"), *v;
	size_t i;
	snprintf(p->pausable, sizeof(p->pausable), "{");
	if (arr && !json_is_array(arr))
		bad(errors, prefix, "pausable_clocks", "must be an array");
	json_array_foreach (arr, i, v) {
		int k = 0;
		while (k < 3 &&
		       !(json_is_string(v) && strcmp(json_string_value(v), clocks[k]) == 0))
			k++;
		if (k == 3) {
			bad(errors, prefix, "pausable_clocks",
			    "only first_response, verification and resolution may pause "
			    "(the regulatory clock never does)");
			return;
		}
		size_t n = strlen(p->pausable);
		snprintf(p->pausable + n, sizeof(p->pausable) - n, "%s%s", i ? "," : "", clocks[k]);
	}
	strcat(p->pausable, "}");
}

/* A duration in seconds, 0 (the clock does not run) to a year; def when absent. */
static long long opt_secs(const json_t *o, const char *key, long long def, const char *prefix,
			  json_t *errors)
{
	const json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v))
		return def;
	long long secs = json_is_integer(v) ? json_integer_value(v) : -1;
	if (secs < 0 || secs > 31536000)
		bad(errors, prefix, key, "must be seconds from 0 (clock not run) to 31536000");
	return secs;
}

static void parse_working(const json_t *o, struct policy_row *p, const char *prefix, json_t *errors)
{
	const size_t nknown = sizeof(working_clocks) / sizeof(working_clocks[0]);
	const json_t *arr = json_object_get(o, "working_time_clocks"), *v;
	size_t i;
	snprintf(p->working, sizeof(p->working), "{");
	if (arr && !json_is_null(arr) && !json_is_array(arr))
		bad(errors, prefix, "working_time_clocks", "must be an array");
	json_array_foreach (arr, i, v) {
		size_t k = 0;
		while (k < nknown &&
		       !(json_is_string(v) && strcmp(json_string_value(v), working_clocks[k]) == 0))
			k++;
		if (k == nknown || i >= POLICY_MAX_WORKING_CLOCKS) {
			bad(errors, prefix, "working_time_clocks",
			    "only accept, first_response, verification, resolution, whole_cycle "
			    "and next_update may run on working time (regulatory never does)");
			return;
		}
		size_t n = strlen(p->working);
		snprintf(p->working + n, sizeof(p->working) - n, "%s%s", i ? "," : "",
			 working_clocks[k]);
	}
	strcat(p->working, "}");
}

static void parse_people_clocks(const json_t *o, struct policy_row *p, const char *prefix,
				json_t *errors)
{
	p->accept_s = opt_secs(o, "accept_s", POLICY_DEFAULT_ACCEPT_S, prefix, errors);
	p->whole_cycle_s =
	    opt_secs(o, "whole_cycle_s", POLICY_DEFAULT_WHOLE_CYCLE_S, prefix, errors);
	long long next = opt_secs(o, "next_update_s", -1, prefix, errors);
	p->next_update_s[0] = '\0';
	if (next >= 0)
		snprintf(p->next_update_s, sizeof(p->next_update_s), "%lld", next);
	parse_working(o, p, prefix, errors);
	const json_t *cal = json_object_get(o, "calendar");
	p->calendar = POLICY_DEFAULT_CALENDAR;
	if (cal && !json_is_null(cal)) {
		p->calendar = json_is_string(cal) ? json_string_value(cal) : "";
		if (!p->calendar[0] || strlen(p->calendar) > 60)
			bad(errors, prefix, "calendar",
			    "must be a calendar name (1 to 60 characters)");
	}
}

static void parse_policy(const json_t *o, struct policy_row *p, const char *prefix, json_t *errors)
{
	/* "proactive" is no complaint's category: a policy row with it is chosen only by channel
	 * (channel_policies, the proactive case of a stuck parcel), never by the ordinary
	 * choice; accepting it keeps the table an operator just read savable as it is */
	static const char *const cats[] = {"service",	  "transport", "charges",
					   "information", "proactive", NULL};
	static const char *const urg[] = {"normal", "urgent", "very_urgent", NULL};
	static const char *const tiers[] = {"standard", "vip", NULL};
	static const char *const secs[] = {"first_response_s", "verification_s", "resolution_s",
					   "regulatory_s"};
	const json_t *name = json_object_get(o, "name"), *rank = json_object_get(o, "rank");
	p->name = json_is_string(name) ? json_string_value(name) : NULL;
	if (!p->name || !p->name[0] || strlen(p->name) > 60)
		bad(errors, prefix, "name", "is required (1 to 60 characters)");
	p->rank = json_is_integer(rank) ? json_integer_value(rank) : -1;
	if (p->rank < 0 || p->rank > 1000000)
		bad(errors, prefix, "rank", "must be a whole number from 0 to 1000000");
	p->category = opt_enum(o, "category", cats, prefix, errors);
	p->subcategory = opt_subcategory(o, p->category, prefix, errors);
	p->urgency = opt_enum(o, "urgency", urg, prefix, errors);
	p->tier = opt_enum(o, "tier", tiers, prefix, errors);
	for (int k = 0; k < 4; k++) {
		const json_t *v = json_object_get(o, secs[k]);
		p->secs[k] = json_is_integer(v) ? json_integer_value(v) : 0;
		if (p->secs[k] < 1 || p->secs[k] > 31536000)
			bad(errors, prefix, secs[k], "must be seconds from 1 to 31536000");
	}
	parse_pausable(o, p, prefix, errors);
	parse_people_clocks(o, p, prefix, errors);
}

static int store_policies(PGconn *c, const struct policy_row *rows, size_t n)
{
	if (pg_exec(c, "DELETE FROM sla_policies", 0, NULL) != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char num[7][24];
		snprintf(num[0], sizeof(num[0]), "%lld", rows[i].rank);
		for (int k = 0; k < 4; k++)
			snprintf(num[k + 1], sizeof(num[0]), "%lld", rows[i].secs[k]);
		snprintf(num[5], sizeof(num[0]), "%lld", rows[i].accept_s);
		snprintf(num[6], sizeof(num[0]), "%lld", rows[i].whole_cycle_s);
		const char *p[] = {
		    rows[i].name,     num[0],
		    rows[i].category, rows[i].subcategory,
		    rows[i].urgency,  rows[i].tier,
		    num[1],	      num[2],
		    num[3],	      num[4],
		    rows[i].pausable, num[5],
		    num[6],	      rows[i].next_update_s[0] ? rows[i].next_update_s : NULL,
		    rows[i].working,  rows[i].calendar};
		if (pg_exec(c,
			    "INSERT INTO sla_policies (name, rank, category, subcategory, urgency, "
			    "tier, first_response_s, verification_s, resolution_s, regulatory_s, "
			    "pausable_clocks, accept_s, whole_cycle_s, next_update_s, "
			    "working_time_clocks, calendar) VALUES ($1,$2::int,$3,$4,$5,$6,$7::int,"
			    "$8::int,$9::int,$10::int,$11::text[],$12::int,$13::int,$14::int,"
			    "$15::text[],$16)",
			    16, p) != 0)
			return -1;
	}
	return 0;
}

static void check_set(const struct policy_row *rows, size_t n, json_t *errors)
{
	bool catch_all = false;
	for (size_t i = 0; i < n; i++) {
		catch_all |=
		    !rows[i].category && !rows[i].subcategory && !rows[i].urgency && !rows[i].tier;
		for (size_t j = 0; j < i; j++)
			if (rows[i].name && rows[j].name && strcmp(rows[i].name, rows[j].name) == 0)
				json_array_append_new(errors,
						      json_pack("{s:s, s:s}", "field", "policies",
								"problem", "duplicate name"));
	}
	if (!catch_all)
		json_array_append_new(
		    errors, json_pack("{s:s, s:s}", "field", "policies", "problem",
				      "needs a catch-all policy (no category, subcategory, "
				      "urgency or tier) so every complaint gets one"));
}

/* The table before a change, for the audit trail. */
#define POLICIES_SNAPSHOT "SELECT json_agg(p ORDER BY rank, name) FROM sla_policies p"

void policies_put(struct http_req *r, void *arg)
{
	struct auth_principal who;
	int failed = 0;
	if (auth_caller(r, &who) != 0)
		return;
	json_t *body = http_req_json(r);
	if (!body)
		return;
	const json_t *arr = json_object_get(body, "policies"), *v;
	json_t *errors = json_array(), *before = NULL;
	size_t n = json_is_array(arr) ? json_array_size(arr) : 0, i;
	struct policy_row *rows = calloc(n ? n : 1, sizeof(*rows));
	if (n == 0 || n > 500)
		json_array_append_new(errors,
				      json_pack("{s:s, s:s}", "field", "policies", "problem",
						"must be an array of 1 to 500 policies"));
	json_array_foreach (arr, i, v) {
		char prefix[32];
		snprintf(prefix, sizeof(prefix), "policies[%zu]", i);
		if (rows && n <= 500)
			parse_policy(v, &rows[i], prefix, errors);
	}
	if (json_array_size(errors) == 0)
		check_set(rows, n, errors);
	if (json_array_size(errors) > 0) {
		http_reply_fields(r, 422, "validation_failed", errors);
		errors = NULL;
	} else if (pg_begin(r->db) != 0 ||
		   (before = audit_snapshot(r->db, POLICIES_SNAPSHOT, 0, NULL, &failed), failed) ||
		   store_policies(r->db, rows, n) != 0 ||
		   audit_record(r->db, who.staff_id, "sla_policies", "", before, arr) != 0 ||
		   pg_commit(r->db) != 0) {
		pg_rollback(r->db);
		http_reply_error(r, 503, "unavailable", "the policies could not be stored; retry");
	} else {
		http_reply_json(r, 200, json_pack("{s:I}", "policies", (json_int_t)n));
	}
	json_decref(before);
	json_decref(errors);
	json_decref(body);
	free(rows);
}
