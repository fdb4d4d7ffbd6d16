/* Auto-settlement rules: operator data (resolution.auto_settlement_rules, none enabled by
 * default) that may execute a proposed plan with no person, when every condition of the rule
 * holds (decide.c, res_rule_mismatch). Also their HTTP API: read by supervisors, changed by
 * admins, every change audited. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "decide.h"
#include "ids.h"
#include "log.h"
#include "pg.h"
#include "resolution.h"

#define RULES_MAX 32

/* Enabled rules in name order; returns how many (at most max) or -1. */
static int load_rules(PGconn *c, struct res_rule *rules, int max)
{
	PGresult *r =
	    pg_query(c,
		     "SELECT name, max_fen, array_to_string(categories, ','), "
		     "array_to_string(remedy_kinds, ',') FROM auto_settlement_rules WHERE "
		     "enabled ORDER BY name",
		     0, NULL);
	if (!r)
		return -1;
	int n = PQntuples(r) < max ? PQntuples(r) : max;
	for (int i = 0; i < n; i++) {
		struct res_rule *rule = &rules[i];
		memset(rule, 0, sizeof(*rule));
		rule->enabled = true;
		snprintf(rule->name, sizeof(rule->name), "%s", PQgetvalue(r, i, 0));
		rule->max_fen = strtoll(PQgetvalue(r, i, 1), NULL, 10);
		snprintf(rule->categories, sizeof(rule->categories), "%s", PQgetvalue(r, i, 2));
		snprintf(rule->kinds, sizeof(rule->kinds), "%s", PQgetvalue(r, i, 3));
	}
	PQclear(r);
	return n;
}

/* clang-format off */
static const char settle_sql[] =
    "SELECT p.status, p.remedies::text, p.waybill_no, k.category, k.subcategory, "
    "NOT k.resp_preliminary AND k.resp_confirmed_by <> '', k.resp_conclusive, k.complaint_no "
    "FROM proposals p JOIN cases k ON k.complaint_id = p.complaint_id WHERE p.id = $1 "
    "FOR UPDATE OF p";
/* clang-format on */

/* Judges the locked, still-proposed plan against each rule; approves with the first match. */
static int settle_locked(PGconn *c, const char *pid, PGresult *row, const struct res_rule *rules,
			 int n)
{
	struct res_plan plan;
	const char *waybill = PQgetvalue(row, 0, 2);
	if (res_plan_from_json(PQgetvalue(row, 0, 1), &plan) != 0 ||
	    res_ledger_lock(c, waybill) != 0)
		return -1;
	struct res_settle_facts f = {
	    .category = PQgetvalue(row, 0, 3),
	    .subcategory = PQgetvalue(row, 0, 4),
	    .confirmed = PQgetvalue(row, 0, 5)[0] == 't',
	    .conclusive = PQgetvalue(row, 0, 6)[0] == 't',
	    .paid_before_fen = res_ledger_paid(c, waybill, pid),
	};
	if (f.paid_before_fen < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		const char *why = res_rule_mismatch(&rules[i], &plan, &f);
		if (why) {
			log_msg(LOG_INFO, "auto_settlement_skipped",
				LOG_KV({"complaint_no", PQgetvalue(row, 0, 7)},
				       {"rule", rules[i].name}, {"condition", why}),
				"rule does not settle the plan");
			continue;
		}
		char actor[64], reason[120];
		snprintf(actor, sizeof(actor), "rule:%.48s", rules[i].name);
		snprintf(reason, sizeof(reason),
			 "auto-settlement rule %.48s matched every condition", rules[i].name);
		return res_approve_and_execute(c, pid, actor, reason);
	}
	return 0;
}

int res_try_settle(PGconn *c, const char *pid)
{
	struct res_rule rules[RULES_MAX];
	/* the rules are read here, at settle time and in the caller's transaction, not where the
	 * case was loaded: a rule an operator enabled in between is applied to this event (with
	 * none enabled this one statement is all a proposal pays for the rules) */
	int n = load_rules(c, rules, RULES_MAX);
	if (n <= 0)
		return n;
	const char *p[] = {pid};
	PGresult *row = pg_query(c, settle_sql, 1, p);
	if (!row)
		return -1;
	int rc = 0;
	if (PQntuples(row) == 1 && strcmp(PQgetvalue(row, 0, 0), "proposed") == 0)
		rc = settle_locked(c, pid, row, rules, n);
	PQclear(row);
	return rc;
}

/* ---- HTTP ---- */

#define RULE_JSON                                                                                  \
	"json_build_object('name', name, 'enabled', enabled, 'categories', categories, "           \
	"'max_fen', "                                                                              \
	"max_fen, 'remedy_kinds', remedy_kinds, 'description', description, 'updated_by', "        \
	"updated_by, 'updated_at', updated_at)"

void res_list_rules(struct http_req *r, void *arg)
{
	struct auth_principal who;
	if (auth_caller(r, &who) != 0)
		return;
	http_reply_query_json(
	    r,
	    "SELECT json_build_object('rules', coalesce(json_agg(" RULE_JSON
	    " ORDER BY name), '[]'))::text FROM auto_settlement_rules WHERE $1::text "
	    "IS NOT NULL",
	    "", "no rules");
}

/* A non-empty array of at most 32 strings, each accepted by ok; NULL when invalid. Caller
 * frees the PostgreSQL array literal. */
static char *string_list(json_t *v, bool (*ok)(const char *))
{
	if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > 32)
		return NULL;
	size_t cap = 3, i;
	json_t *e;
	json_array_foreach (v, i, e) {
		if (!json_is_string(e) || !ok(json_string_value(e)))
			return NULL;
		cap += json_string_length(e) + 1;
	}
	char *out = malloc(cap), *o = out;
	if (!out)
		return NULL;
	*o++ = '{';
	json_array_foreach (v, i, e)
		o += sprintf(o, "%s%s", i ? "," : "", json_string_value(e));
	snprintf(o, 2, "}");
	return out;
}

/* lowercase words with one optional "/": transport, transport/delay */
static bool category_ok(const char *s)
{
	size_t n = strlen(s), slash = strcspn(s, "/");
	if (n == 0 || n > 64 || slash == 0)
		return false;
	/* without a "/" the whole category is meant; with one, exactly one subcategory follows */
	if (slash < n && (slash == n - 1 || strchr(s + slash + 1, '/')))
		return false;
	for (const char *p = s; *p; p++)
		if (!(*p == '/' || *p == '_' || (*p >= 'a' && *p <= 'z')))
			return false;
	return true;
}

static bool rule_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 48 || s[0] < 'a' || s[0] > 'z')
		return false;
	for (const char *p = s; *p; p++)
		if (!(*p == '_' || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
			return false;
	return true;
}

struct rule_body {
	bool enabled;
	long long max_fen;
	char *categories, *kinds;
	const char *description;
};

static json_t *rule_fields(json_t *body, struct rule_body *b)
{
	json_t *fields = json_array();
	json_t *en = json_object_get(body, "enabled"), *max = json_object_get(body, "max_fen");
	json_t *desc = json_object_get(body, "description");
	if (!json_is_boolean(en))
		json_array_append_new(fields, http_field("enabled", "required, true or false"));
	if (!json_is_integer(max) || json_integer_value(max) < 0 ||
	    json_integer_value(max) > 100000000LL)
		json_array_append_new(fields,
				      http_field("max_fen", "required, 0 to 100000000 fen"));
	b->categories = string_list(json_object_get(body, "categories"), category_ok);
	if (!b->categories)
		json_array_append_new(fields, http_field("categories", "1 to 32 of category or "
								       "category/subcategory"));
	b->kinds = string_list(json_object_get(body, "remedy_kinds"), res_kind_valid);
	if (!b->kinds)
		json_array_append_new(fields,
				      http_field("remedy_kinds", "1 to 32 known remedy kinds"));
	if (desc && (!json_is_string(desc) || json_string_length(desc) > 500))
		json_array_append_new(fields,
				      http_field("description", "a string up to 500 bytes"));
	b->enabled = json_is_true(en);
	b->max_fen = json_integer_value(max);
	b->description = desc ? json_string_value(desc) : "";
	return fields;
}

/* clang-format off */
static const char put_rule_sql[] =
    "WITH before AS (SELECT " RULE_JSON " AS doc FROM auto_settlement_rules WHERE name = $1 "
    "FOR UPDATE), "
    "saved AS (INSERT INTO auto_settlement_rules AS r (name, enabled, categories, max_fen, "
    "remedy_kinds, description, updated_by) VALUES ($1, $2::boolean, $3::text[], $4::bigint, "
    "$5::text[], coalesce($6, ''), $7) ON CONFLICT (name) DO UPDATE SET enabled = "
    "EXCLUDED.enabled, categories = EXCLUDED.categories, max_fen = EXCLUDED.max_fen, "
    "remedy_kinds = EXCLUDED.remedy_kinds, description = coalesce($6, r.description), "
    "updated_by = EXCLUDED.updated_by, updated_at = now() RETURNING *), "
    "audit AS (INSERT INTO auto_settlement_rule_audit (name, actor, before, after) SELECT $1, "
    "$7, (SELECT doc FROM before)::jsonb, (SELECT " RULE_JSON " FROM saved)::jsonb), "
    /* and where every other operator table's change is read (GET /v1/admin/audit/resolution) */
    "admin AS (INSERT INTO admin_audit (actor, entity, key, before, after) SELECT $7, "
    "'auto_settlement_rules', $1, (SELECT doc FROM before)::jsonb, "
    "(SELECT " RULE_JSON " FROM saved)::jsonb) "
    "SELECT " RULE_JSON "::text FROM saved";
/* clang-format on */

static void put_rule(struct http_req *r, const struct rule_body *b, json_t *body, const char *staff)
{
	char max[24];
	snprintf(max, sizeof(max), "%lld", b->max_fen);
	json_t *desc = json_object_get(body, "description");
	const char *p[] = {r->params[0], b->enabled ? "t" : "f",       b->categories, max,
			   b->kinds,	 desc ? b->description : NULL, staff};
	PGresult *res = pg_query(r->db, put_rule_sql, 7, p);
	if (!res)
		return http_reply_db_error(r);
	json_t *doc = PQntuples(res) ? json_loads(PQgetvalue(res, 0, 0), 0, NULL) : NULL;
	PQclear(res);
	if (!doc)
		return http_reply_error(r, 500, "internal", "the rule was not stored");
	log_msg(LOG_INFO, "auto_settlement_rule_changed",
		LOG_KV({"rule", r->params[0]}, {"staff_id", staff}), "rule %s by %s",
		b->enabled ? "enabled" : "disabled", staff);
	http_reply_json(r, 200, doc);
}

void res_put_rule(struct http_req *r, void *arg)
{
	struct auth_principal who;
	struct rule_body b = {0};
	if (auth_caller(r, &who) != 0)
		return;
	if (!rule_name_ok(r->params[0]))
		return http_reply_error(r, 404, "not_found", "a rule name is [a-z][a-z0-9_]{0,47}");
	json_t *body = http_req_json(r);
	if (!body)
		return;
	json_t *fields = rule_fields(body, &b);
	if (json_array_size(fields) > 0)
		http_reply_fields(r, 422, "validation_failed", json_incref(fields));
	else
		put_rule(r, &b, body, who.staff_id);
	json_decref(fields);
	json_decref(body);
	free(b.categories);
	free(b.kinds);
}
