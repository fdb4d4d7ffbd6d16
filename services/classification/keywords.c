/* The keyword table: classification.keywords, cached in memory for the classifier and
 * reloaded when it changes (a periodic task compares count and last change; PUT reloads at
 * once). GET /v1/keywords (supervisor, admin), PUT /v1/keywords (admin) replaces the table. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "auth.h"
#include "classification.h"
#include "log.h"
#include "pg.h"
#include "textreader.h"

#define KEYWORDS_MAX 5000

static pthread_rwlock_t kw_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct kw_table kw_cache;
static char kw_stamp[96]; /* count and last change of the loaded table; "" = never loaded */

#define STAMP_SQL                                                                                  \
	"SELECT count(*)::text || '/' || coalesce(max(updated_at)::text, '') FROM keywords"
#define LOAD_SQL                                                                                   \
	"SELECT keyword, kind, coalesce(category, ''), coalesce(subcategory, ''), "                \
	"coalesce(goods, ''), weight, override FROM keywords ORDER BY kind, keyword"

static int load_rows(PGresult *res, struct kw_table *t)
{
	int n = PQntuples(res);
	char err[128];
	t->v = calloc(n ? (size_t)n : 1, sizeof(*t->v));
	t->n = 0;
	if (!t->v)
		return -1;
	for (int i = 0; i < n; i++) {
		if (classify_kw_make(&t->v[t->n], PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
				     PQgetvalue(res, i, 2), PQgetvalue(res, i, 3),
				     PQgetvalue(res, i, 4), atoi(PQgetvalue(res, i, 5)), err,
				     sizeof(err)) != 0) {
			log_warn("keyword_skipped", "keyword row %d skipped: %s", i, err);
			continue;
		}
		t->v[t->n].override = PQgetvalue(res, i, 6)[0] == 't';
		t->n++;
	}
	return 0;
}

static void swap_in(struct kw_table *t, const char *stamp)
{
	pthread_rwlock_wrlock(&kw_lock);
	struct kw_table old = kw_cache;
	kw_cache = *t;
	snprintf(kw_stamp, sizeof(kw_stamp), "%s", stamp);
	pthread_rwlock_unlock(&kw_lock);
	free(old.v);
}

static bool stamp_changed(const char *stamp)
{
	pthread_rwlock_rdlock(&kw_lock);
	bool changed = strcmp(kw_stamp, stamp) != 0;
	pthread_rwlock_unlock(&kw_lock);
	return changed;
}

int keywords_refresh(PGconn *c, bool force)
{
	PGresult *s = pg_query(c, STAMP_SQL, 0, NULL);
	if (!s)
		return -1;
	char stamp[96];
	snprintf(stamp, sizeof(stamp), "%s", PQgetvalue(s, 0, 0));
	PQclear(s);
	if (!force && !stamp_changed(stamp))
		return 0;
	PGresult *res = pg_query(c, LOAD_SQL, 0, NULL);
	struct kw_table t = {0};
	if (!res || load_rows(res, &t) != 0) {
		PQclear(res);
		return -1;
	}
	PQclear(res);
	swap_in(&t, stamp);
	log_info("keywords_loaded", "keyword table loaded: %zu keywords", t.n);
	return 0;
}

int keywords_ensure(PGconn *c)
{
	pthread_rwlock_rdlock(&kw_lock);
	bool loaded = kw_stamp[0] != '\0';
	pthread_rwlock_unlock(&kw_lock);
	return loaded ? 0 : keywords_refresh(c, true);
}

void keywords_with(void (*fn)(const struct kw_table *kw, void *arg), void *arg)
{
	pthread_rwlock_rdlock(&kw_lock);
	fn(&kw_cache, arg);
	pthread_rwlock_unlock(&kw_lock);
}

int keywords_task(PGconn *c, void *arg)
{
	/* the model is reloaded here after a SIGHUP: a task of its own would hold a database
	 * connection it never uses */
	textreader_task(c, arg);
	return keywords_refresh(c, false) == 0 ? 0 : -1;
}

static json_t *entry_json(PGresult *res, int i)
{
	json_t *j = json_pack("{s:s, s:s, s:i, s:b}", "keyword", PQgetvalue(res, i, 0), "kind",
			      PQgetvalue(res, i, 1), "weight", atoi(PQgetvalue(res, i, 5)),
			      "override", PQgetvalue(res, i, 6)[0] == 't');
	static const char *const opt[] = {NULL, NULL, "category", "subcategory", "goods"};
	for (int col = 2; col <= 4; col++)
		if (PQgetvalue(res, i, col)[0])
			json_object_set_new(j, opt[col], json_string(PQgetvalue(res, i, col)));
	return j;
}

void keywords_get(struct http_req *r, void *arg)
{
	PGresult *res = pg_query(r->db, LOAD_SQL, 0, NULL);
	if (!res) {
		http_reply_error(r, 503, "unavailable", "the keywords could not be read; retry");
		return;
	}
	json_t *arr = json_array();
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(arr, entry_json(res, i));
	PQclear(res);
	http_reply_json(r, 200, json_pack("{s:o}", "keywords", arr));
}

static const char *str_or_null(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Validates every entry into t; problems go to errors as {"field", "problem"}. */
static void parse_entries(const json_t *arr, struct kw_table *t, json_t *errors)
{
	size_t i;
	const json_t *v;
	char field[48], err[128];
	json_array_foreach (arr, i, v) {
		snprintf(field, sizeof(field), "keywords[%zu]", i);
		const json_t *w = json_object_get(v, "weight");
		int weight = w ? (json_is_integer(w) ? (int)json_integer_value(w) : 0) : 2;
		if (!json_is_object(v) ||
		    classify_kw_make(&t->v[t->n], str_or_null(v, "keyword"), str_or_null(v, "kind"),
				     str_or_null(v, "category"), str_or_null(v, "subcategory"),
				     str_or_null(v, "goods"), weight, err, sizeof(err)) != 0) {
			json_array_append_new(
			    errors, json_pack("{s:s, s:s}", "field", field, "problem",
					      json_is_object(v) ? err : "must be an object"));
			continue;
		}
		/* an override decides the sub-category over the model: category keywords only */
		const json_t *o = json_object_get(v, "override");
		t->v[t->n].override = json_is_true(o) && t->v[t->n].kind == KW_CATEGORY;
		if (o && !json_is_boolean(o))
			json_array_append_new(errors,
					      json_pack("{s:s, s:s}", "field", field, "problem",
							"override must be true or false"));
		for (size_t j = 0; j < t->n; j++)
			if (strcmp(t->v[j].keyword, t->v[t->n].keyword) == 0)
				json_array_append_new(errors,
						      json_pack("{s:s, s:s}", "field", field,
								"problem", "duplicate keyword"));
		t->n++;
	}
}

static int store_entries(PGconn *c, const struct kw_table *t)
{
	static const char *const kinds[] = {"category", "angry", "goods"};
	if (pg_exec(c, "DELETE FROM keywords", 0, NULL) != 0)
		return -1;
	for (size_t i = 0; i < t->n; i++) {
		const struct kw_entry *e = &t->v[i];
		char weight[8];
		snprintf(weight, sizeof(weight), "%d", e->weight);
		const char *p[] = {e->keyword,
				   kinds[e->kind],
				   e->category[0] ? e->category : NULL,
				   e->subcategory[0] ? e->subcategory : NULL,
				   e->goods[0] ? e->goods : NULL,
				   weight,
				   e->override ? "true" : "false"};
		if (pg_exec(c,
			    "INSERT INTO keywords (keyword, kind, category, subcategory, goods, "
			    "weight, override) "
			    "VALUES ($1, $2, $3, $4, $5, $6::int, $7::boolean)",
			    7, p) != 0)
			return -1;
	}
	return 0;
}

void keywords_put(struct http_req *r, void *arg)
{
	struct auth_principal who;
	json_t *before = NULL;
	int failed = 0;
	if (auth_caller(r, &who) != 0)
		return;
	json_t *body = http_req_json(r);
	if (!body)
		return;
	const json_t *arr = json_object_get(body, "keywords");
	json_t *errors = json_array();
	struct kw_table t = {0};
	if (!json_is_array(arr) || json_array_size(arr) == 0 ||
	    json_array_size(arr) > KEYWORDS_MAX) {
		json_array_append_new(errors,
				      json_pack("{s:s, s:s}", "field", "keywords", "problem",
						"must be an array of 1 to 5000 entries"));
	} else if ((t.v = calloc(json_array_size(arr), sizeof(*t.v)))) {
		parse_entries(arr, &t, errors);
	}
	if (json_array_size(errors) > 0) {
		http_reply_fields(r, 422, "validation_failed", errors);
		errors = NULL;
	} else if (pg_begin(r->db) != 0 ||
		   (before =
			audit_snapshot(r->db, "SELECT json_agg(k ORDER BY keyword) FROM keywords k",
				       0, NULL, &failed),
		    failed) ||
		   store_entries(r->db, &t) != 0 ||
		   audit_record(r->db, who.staff_id, "keywords", "", before, arr) != 0 ||
		   pg_commit(r->db) != 0) {
		pg_rollback(r->db);
		http_reply_error(r, 503, "unavailable", "the keywords could not be stored; retry");
	} else {
		if (keywords_refresh(r->db, true) != 0)
			log_warn("keywords_reload", "stored, the periodic reload will pick it up");
		http_reply_json(r, 200, json_pack("{s:I}", "keywords", (json_int_t)t.n));
	}
	json_decref(before);
	json_decref(errors);
	json_decref(body);
	free(t.v);
}
