/* SLA policies (classification.sla_policies), the VIP list and the first-response
 * templates: data an operator changes. GET/PUT /v1/sla-policies (supervisor, admin). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "classification.h"
#include "pg.h"

#define CHOOSE_SQL                                                                                 \
	"SELECT name, first_response_s, verification_s, resolution_s, regulatory_s, "              \
	"array_to_string(pausable_clocks, ',') FROM sla_policies WHERE "                           \
	"(category IS NULL OR category = $1) AND (subcategory IS NULL OR subcategory = $2) "       \
	"AND (urgency IS NULL OR urgency = $3) AND (tier IS NULL OR tier = $4) "                   \
	"ORDER BY rank, name LIMIT 1"

#define LIST_SQL                                                                                   \
	"SELECT name, rank, category, subcategory, urgency, tier, first_response_s, "              \
	"verification_s, resolution_s, regulatory_s, array_to_string(pausable_clocks, ',') "       \
	"FROM sla_policies ORDER BY rank, name"

static const char *const clocks[] = {"first_response", "verification", "resolution"};

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
}

int policy_choose(PGconn *c, const struct classify_result *r, struct sla_policy *out)
{
	const char *p[] = {r->category, r->subcategory, r->urgency, r->tier};
	PGresult *res = pg_query(c, CHOOSE_SQL, 4, p);
	if (!res)
		return -1;
	defaults(out);
	if (PQntuples(res) > 0) {
		snprintf(out->name, sizeof(out->name), "%s", PQgetvalue(res, 0, 0));
		out->first_response_s = atoll(PQgetvalue(res, 0, 1));
		out->verification_s = atoll(PQgetvalue(res, 0, 2));
		out->resolution_s = atoll(PQgetvalue(res, 0, 3));
		out->regulatory_s = atoll(PQgetvalue(res, 0, 4));
		split_clocks(PQgetvalue(res, 0, 5), out);
	}
	PQclear(res);
	return 0;
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

static json_t *policy_json(PGresult *res, int i)
{
	json_t *pausable = json_array();
	struct sla_policy p;
	split_clocks(PQgetvalue(res, i, 10), &p);
	for (int k = 0; k < p.npausable; k++)
		json_array_append_new(pausable, json_string(p.pausable[k]));
	return json_pack("{s:s, s:i, s:o, s:o, s:o, s:o, s:I, s:I, s:I, s:I, s:o}", "name",
			 PQgetvalue(res, i, 0), "rank", atoi(PQgetvalue(res, i, 1)), "category",
			 opt(res, i, 2), "subcategory", opt(res, i, 3), "urgency", opt(res, i, 4),
			 "tier", opt(res, i, 5), "first_response_s",
			 (json_int_t)atoll(PQgetvalue(res, i, 6)), "verification_s",
			 (json_int_t)atoll(PQgetvalue(res, i, 7)), "resolution_s",
			 (json_int_t)atoll(PQgetvalue(res, i, 8)), "regulatory_s",
			 (json_int_t)atoll(PQgetvalue(res, i, 9)), "pausable_clocks", pausable);
}

void policies_get(struct http_req *r, void *arg)
{
	if (auth_require(r, AUTH_SUPERVISOR, NULL) != 0)
		return;
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

static void parse_policy(const json_t *o, struct policy_row *p, const char *prefix, json_t *errors)
{
	static const char *const cats[] = {"service", "transport", "charges", "information", NULL};
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
}

static int store_policies(PGconn *c, const struct policy_row *rows, size_t n)
{
	if (pg_exec(c, "DELETE FROM sla_policies", 0, NULL) != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char num[5][24];
		snprintf(num[0], sizeof(num[0]), "%lld", rows[i].rank);
		for (int k = 0; k < 4; k++)
			snprintf(num[k + 1], sizeof(num[0]), "%lld", rows[i].secs[k]);
		const char *p[] = {
		    rows[i].name,    num[0],	   rows[i].category, rows[i].subcategory,
		    rows[i].urgency, rows[i].tier, num[1],	     num[2],
		    num[3],	     num[4],	   rows[i].pausable};
		if (pg_exec(
			c,
			"INSERT INTO sla_policies (name, rank, category, subcategory, urgency, "
			"tier, "
			"first_response_s, verification_s, resolution_s, regulatory_s, "
			"pausable_clocks) VALUES ($1,$2::int,$3,$4,$5,$6,$7::int,$8::int,$9::int,"
			"$10::int,$11::text[])",
			11, p) != 0)
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

void policies_put(struct http_req *r, void *arg)
{
	if (auth_require(r, AUTH_SUPERVISOR, NULL) != 0)
		return;
	json_t *body = http_req_json(r);
	if (!body)
		return;
	const json_t *arr = json_object_get(body, "policies"), *v;
	json_t *errors = json_array();
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
	} else if (pg_begin(r->db) != 0 || store_policies(r->db, rows, n) != 0 ||
		   pg_commit(r->db) != 0) {
		pg_rollback(r->db);
		http_reply_error(r, 503, "unavailable", "the policies could not be stored; retry");
	} else {
		http_reply_json(r, 200, json_pack("{s:I}", "policies", (json_int_t)n));
	}
	json_decref(errors);
	json_decref(body);
	free(rows);
}
