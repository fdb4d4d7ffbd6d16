/* The compensation policies and authority limits as operator data, through the service that
 * owns them: GET /v1/compensation-policies and /v1/authority-limits (supervisors read),
 * PUT /v1/compensation-policies/{carrier} and /v1/authority-limits/{role} (admins). Resolution
 * reads both at every decision (plan.c), so a change applies to the next plan drafted and the
 * next person deciding; plans already drafted keep their amounts. Every change is recorded in
 * admin_audit with the row before and after. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "auth.h"
#include "pg.h"
#include "resolution.h"

#define FEN_MAX 100000000000LL /* one billion yuan: any larger amount is a typing error */

/* clang-format off */
#define POLICY_JSON(where) \
	"SELECT coalesce(json_agg(json_build_object('carrier', carrier, 'freight_multiple', " \
	"freight_multiple, 'declared_ceiling_fen', declared_ceiling_fen, 'damage_loss_pct', " \
	"damage_loss_pct, 'delay_remedy', delay_remedy, 'delay_coupon_fen', delay_coupon_fen, " \
	"'vip_coupon_fen', vip_coupon_fen, 'last_mile_coupon_fen', last_mile_coupon_fen, " \
	"'description', description) ORDER BY carrier = 'default' DESC, carrier), '[]') " \
	"FROM compensation_policies " where
#define LIMIT_JSON(where) \
	"SELECT coalesce(json_agg(json_build_object('role', role, 'max_fen', max_fen) " \
	"ORDER BY max_fen, role), '[]') FROM authority_limits " where
/* clang-format on */

static void list(struct http_req *r, const char *sql, const char *key)
{
	PGresult *res = pg_query(r->db, sql, 0, NULL);
	json_t *arr = res ? json_loads(PQgetvalue(res, 0, 0), 0, NULL) : NULL;
	PQclear(res);
	if (!arr)
		http_reply_error(r, 503, "unavailable", "the table could not be read; retry");
	else
		http_reply_json(r, 200, json_pack("{s:o}", key, arr));
}

void res_list_compensation_policies(struct http_req *r, void *arg)
{
	list(r, POLICY_JSON(""), "compensation_policies");
}

void res_list_authority_limits(struct http_req *r, void *arg)
{
	list(r, LIMIT_JSON(""), "authority_limits");
}

static void need_int(const json_t *o, const char *key, long long lo, long long hi, json_t *errors)
{
	const json_t *v = json_object_get(o, key);
	if (json_is_integer(v) && json_integer_value(v) >= lo && json_integer_value(v) <= hi)
		return;
	char msg[96];
	snprintf(msg, sizeof(msg), "must be a whole number from %lld to %lld", lo, hi);
	json_array_append_new(errors, http_field(key, msg));
}

bool res_carrier_key_valid(const char *s)
{
	size_t n = strlen(s);
	if (strcmp(s, "default") == 0)
		return true;
	/* a policy applies to the waybills whose letter prefix is its name (plan.c) */
	if (n == 0 || n > 10)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z')))
			return false;
	return true;
}

void res_policy_check(const char *carrier, const json_t *b, json_t *errors)
{
	const json_t *remedy = json_object_get(b, "delay_remedy"),
		     *desc = json_object_get(b, "description");
	if (!res_carrier_key_valid(carrier))
		json_array_append_new(errors, http_field("carrier",
							 "must be default or 1 to 10 letters (the "
							 "waybill prefix it applies to)"));
	need_int(b, "freight_multiple", 0, 100, errors);
	need_int(b, "declared_ceiling_fen", 0, FEN_MAX, errors);
	need_int(b, "damage_loss_pct", 0, 100, errors);
	if (!json_is_string(remedy) || (strcmp(json_string_value(remedy), "freight_waiver") != 0 &&
					strcmp(json_string_value(remedy), "coupon") != 0))
		json_array_append_new(
		    errors, http_field("delay_remedy", "must be freight_waiver or coupon"));
	need_int(b, "delay_coupon_fen", 0, FEN_MAX, errors);
	need_int(b, "vip_coupon_fen", 0, FEN_MAX, errors);
	if (json_object_get(b, "last_mile_coupon_fen"))
		need_int(b, "last_mile_coupon_fen", 0, FEN_MAX, errors);
	if (desc && !json_is_null(desc) &&
	    !(json_is_string(desc) && strlen(json_string_value(desc)) <= 500))
		json_array_append_new(errors,
				      http_field("description", "must be at most 500 bytes"));
}

/* Runs the change and its audit record in one transaction; replies. */
static void change(struct http_req *r, const struct auth_principal *who, const char *entity,
		   const char *snapshot_sql, const char *sql, const char *const *p, int np,
		   json_t *after)
{
	int failed = 0;
	json_t *snap = NULL;
	if (pg_begin(r->db) != 0 ||
	    (snap = audit_snapshot(r->db, snapshot_sql, 1, p, &failed), failed) ||
	    pg_exec(r->db, sql, np, p) != 0 ||
	    audit_record(r->db, who->staff_id, entity, p[0],
			 json_array_size(snap) ? json_array_get(snap, 0) : NULL, after) != 0 ||
	    pg_commit(r->db) != 0) {
		http_reply_db_error(r);
	} else {
		json_t *reply = json_deep_copy(after);
		json_object_set_new(reply, "created", json_boolean(json_array_size(snap) == 0));
		http_reply_json(r, json_array_size(snap) ? 200 : 201, reply);
	}
	json_decref(snap);
}

void res_put_compensation_policy(struct http_req *r, void *arg)
{
	struct auth_principal who;
	if (auth_caller(r, &who) != 0)
		return;
	json_t *body = http_req_json(r);
	if (!body)
		return;
	json_t *errors = json_array();
	res_policy_check(r->params[0], body, errors);
	if (json_array_size(errors) > 0) {
		http_reply_fields(r, 422, "validation_failed", errors);
		errors = NULL;
		goto out;
	}
	json_object_set_new(body, "carrier", json_string(r->params[0]));
	if (!json_object_get(body, "last_mile_coupon_fen"))
		json_object_set_new(body, "last_mile_coupon_fen", json_integer(0));
	if (!json_is_string(json_object_get(body, "description")))
		json_object_set_new(body, "description", json_string(""));
	char *text = json_dumps(body, JSON_COMPACT);
	const char *p[] = {r->params[0], text};
	/* clang-format off */
	change(r, &who, "compensation_policies", POLICY_JSON("WHERE carrier = $1"),
	    "INSERT INTO compensation_policies AS c (carrier, freight_multiple, declared_ceiling_fen, "
	    "damage_loss_pct, delay_remedy, delay_coupon_fen, vip_coupon_fen, last_mile_coupon_fen, "
	    "description) SELECT $1, (b->>'freight_multiple')::bigint, "
	    "(b->>'declared_ceiling_fen')::bigint, (b->>'damage_loss_pct')::bigint, "
	    "b->>'delay_remedy', (b->>'delay_coupon_fen')::bigint, (b->>'vip_coupon_fen')::bigint, "
	    "(b->>'last_mile_coupon_fen')::bigint, b->>'description' FROM (SELECT $2::jsonb b) x "
	    "ON CONFLICT (carrier) DO UPDATE SET freight_multiple = EXCLUDED.freight_multiple, "
	    "declared_ceiling_fen = EXCLUDED.declared_ceiling_fen, damage_loss_pct = "
	    "EXCLUDED.damage_loss_pct, delay_remedy = EXCLUDED.delay_remedy, delay_coupon_fen = "
	    "EXCLUDED.delay_coupon_fen, vip_coupon_fen = EXCLUDED.vip_coupon_fen, "
	    "last_mile_coupon_fen = EXCLUDED.last_mile_coupon_fen, description = EXCLUDED.description",
	    p, 2, body);
	/* clang-format on */
	free(text);
out:
	json_decref(errors);
	json_decref(body);
}

void res_put_authority_limit(struct http_req *r, void *arg)
{
	static const char *const roles[] = {"agent", "supervisor", "admin"};
	struct auth_principal who;
	if (auth_caller(r, &who) != 0)
		return;
	json_t *body = http_req_json(r);
	if (!body)
		return;
	json_t *errors = json_array();
	size_t k = 0;
	while (k < 3 && strcmp(r->params[0], roles[k]) != 0)
		k++;
	/* the roles a bearer token or a session can carry; nobody else decides a plan */
	if (k == 3)
		json_array_append_new(errors,
				      http_field("role", "must be agent, supervisor or admin"));
	need_int(body, "max_fen", 0, FEN_MAX, errors);
	if (json_array_size(errors) > 0) {
		http_reply_fields(r, 422, "validation_failed", errors);
		errors = NULL;
		goto out;
	}
	char max[32];
	snprintf(max, sizeof(max), "%lld",
		 (long long)json_integer_value(json_object_get(body, "max_fen")));
	const char *p[] = {r->params[0], max};
	json_t *after = json_pack("{s:s, s:I}", "role", r->params[0], "max_fen",
				  (json_int_t)json_integer_value(json_object_get(body, "max_fen")));
	change(r, &who, "authority_limits", LIMIT_JSON("WHERE role = $1"),
	       "INSERT INTO authority_limits (role, max_fen) VALUES ($1, $2::bigint) ON CONFLICT "
	       "(role) DO UPDATE SET max_fen = EXCLUDED.max_fen",
	       p, 2, after);
	json_decref(after);
out:
	json_decref(errors);
	json_decref(body);
}
