/* The text reader's part of a classification in the database: the model's reading and its
 * probability stored with the choice, shown by GET /v1/complaints/{no}/classification, and a
 * person's confirmation or correction of the sub-category (PUT on the same path), which is
 * kept as a labelled example for the next training. The machine marks an unsure reading; a
 * person decides. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "classification.h"
#include "intake.pb-c.h"
#include "log.h"
#include "ownership.h"
#include "pg.h"
#include "textreview.h"

int textreview_store(PGconn *pg, const Cp__ComplaintReceived *c, const struct classify_result *r)
{
	char prob[32] = "";
	if (strcmp(r->text_reader, "model") == 0)
		snprintf(prob, sizeof(prob), "%.4f", r->text_probability);
	const char *p[] = {c->complaint_id, r->text_reader[0] ? r->text_reader : "keywords", prob,
			   r->needs_review ? "true" : "false",
			   c->description_redacted ? c->description_redacted : ""};
	return pg_exec(
	    pg,
	    "UPDATE classifications SET text_reader = $2, text_probability = "
	    "NULLIF($3, '')::real, needs_review = $4::boolean, description_redacted = $5 "
	    "WHERE complaint_id = $1",
	    5, p);
}

#define REVIEW_SQL                                                                                 \
	"SELECT text_reader, coalesce(text_probability::text, ''), needs_review, "                 \
	"coalesce(reviewed_by, ''), coalesce(to_char(reviewed_at AT TIME ZONE 'UTC', "             \
	"'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), ''), coalesce(original_subcategory, '') FROM "      \
	"classifications WHERE complaint_no = $1"

void textreview_decorate(PGconn *db, const char *complaint_no, json_t *j)
{
	const char *p[] = {complaint_no};
	PGresult *res = pg_query(db, REVIEW_SQL, 1, p);
	if (!res || PQntuples(res) == 0) {
		PQclear(res);
		return;
	}
	const char *prob = PQgetvalue(res, 0, 1);
	json_object_set_new(j, "text_reader", json_string(PQgetvalue(res, 0, 0)));
	json_object_set_new(j, "text_probability", prob[0] ? json_real(atof(prob)) : json_null());
	json_object_set_new(j, "needs_review", json_boolean(PQgetvalue(res, 0, 2)[0] == 't'));
	json_object_set_new(j, "review",
			    PQgetvalue(res, 0, 3)[0]
				? json_pack("{s:s, s:s, s:s}", "by", PQgetvalue(res, 0, 3), "at",
					    PQgetvalue(res, 0, 4), "original_subcategory",
					    PQgetvalue(res, 0, 5))
				: json_null());
	PQclear(res);
}

json_t *textreview_decorated(PGconn *db, const char *complaint_no, json_t *j)
{
	textreview_decorate(db, complaint_no, j);
	return j;
}

/* --- PUT /v1/complaints/{no}/classification {"subcategory": ...} --- */

enum review_result {
	REVIEW_OK,
	REVIEW_UNKNOWN,
	REVIEW_NOT_OWNER,
	REVIEW_CONFLICT,
	REVIEW_FAILED,
};

struct review {
	char complaint_id[40];
	char previous[48];
	long long example_id;
	bool announced;	     /* cp.complaint.classified announced again with the new category */
	char sla_policy[64]; /* ... on this policy */
};

#define CASE_FOR_REVIEW_SQL                                                                        \
	"SELECT c.complaint_id, c.subcategory, coalesce(a.state, ''), "                            \
	"coalesce(a.owner_staff_id, '') FROM classifications c LEFT JOIN assignments a USING "     \
	"(complaint_id) WHERE c.complaint_no = $1 FOR UPDATE OF c"

/* The owner of an accepted case, or a supervisor or admin, may set its category; never
 * someone the complaint is about. */
static enum review_result may_review(PGconn *db, PGresult *res, const struct auth_principal *who)
{
	int v = conflict_case_verdict(db, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 2),
				      PQgetvalue(res, 0, 3), who);
	return v < 0			  ? REVIEW_FAILED
	       : v == AUTH_CASE_CONFLICT  ? REVIEW_CONFLICT
	       : v == AUTH_CASE_NOT_OWNER ? REVIEW_NOT_OWNER
					  : REVIEW_OK;
}

static int record(PGconn *db, const char *sub, const struct auth_principal *who, struct review *rv)
{
	const char *cat = classify_category_of(sub);
	const char *source =
	    strcmp(rv->previous, sub) == 0 ? "agent_confirmation" : "agent_correction";
	const char *u[] = {rv->complaint_id, cat, sub, who->staff_id};
	if (pg_exec(db,
		    "UPDATE classifications SET original_subcategory = coalesce("
		    "original_subcategory, subcategory), category = $2, subcategory = $3, "
		    "needs_review = false, reviewed_by = $4, reviewed_at = now() WHERE "
		    "complaint_id = $1",
		    4, u) != 0)
		return -1;
	const char *p[] = {rv->complaint_id, cat, sub, source, who->staff_id};
	PGresult *res = pg_query(
	    db,
	    "INSERT INTO labelled_examples (complaint_id, complaint_no, text, category, "
	    "subcategory, model_subcategory, model_probability, source, staff_id) SELECT "
	    "complaint_id, complaint_no, description_redacted, $2, $3, CASE WHEN text_reader = "
	    "'model' THEN text_subcategory ELSE '' END, text_probability, $4, $5 FROM "
	    "classifications WHERE complaint_id = $1 RETURNING id",
	    5, p);
	if (!res || PQntuples(res) != 1) {
		PQclear(res);
		return -1;
	}
	rv->example_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}

/* --- the corrected case announced again --- */

struct reread {
	const Cp__ComplaintReceived *c;
	bool vip;
	const char *sub;
	struct classify_result *out;
};

static void reread_with(const struct kw_table *kw, void *arg)
{
	struct reread *x = arg;
	struct classify_reading rd = {NULL, NULL, 0, 0, x->sub};
	classify_complaint_read(x->c, kw, x->vip, &rd, x->out);
}

static int hex_value(char ch)
{
	return ch >= '0' && ch <= '9'	? ch - '0'
	       : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
	       : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
					: -1;
}

/* The received complaint kept with the classification (hex of its packed protobuf); NULL when
 * none was kept (classified before migration 0871) or it does not unpack. */
static Cp__ComplaintReceived *received_of(const char *hex)
{
	size_t n = strlen(hex) / 2;
	uint8_t *buf = n ? malloc(n) : NULL;
	Cp__ComplaintReceived *c = NULL;
	for (size_t i = 0; buf && i < n; i++) {
		int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			free(buf);
			return NULL;
		}
		buf[i] = (uint8_t)(hi << 4 | lo);
	}
	if (buf)
		c = cp__complaint_received__unpack(NULL, n, buf);
	free(buf);
	return c;
}

/* Stores what the person's category changes (urgency, severity, priority, the SLA policy and
 * its clocks) with the classification. */
static int store_reread(PGconn *db, const char *id, const struct classify_result *r,
			const struct sla_policy *pol)
{
	char prio[8], secs[7][24];
	snprintf(prio, sizeof(prio), "%d", r->priority);
	const long long v[] = {pol->first_response_s, pol->verification_s, pol->resolution_s,
			       pol->regulatory_s,     pol->accept_s,	   pol->whole_cycle_s,
			       pol->next_update_s};
	for (int i = 0; i < 7; i++)
		snprintf(secs[i], sizeof(secs[i]), "%lld", v[i]);
	const char *pausable[POLICY_MAX_CLOCKS], *working[POLICY_MAX_WORKING_CLOCKS];
	for (int i = 0; i < pol->npausable; i++)
		pausable[i] = pol->pausable[i];
	for (int i = 0; i < pol->nworking; i++)
		working[i] = pol->working[i];
	char *clocks = pg_text_array(pausable, (size_t)pol->npausable);
	char *wclocks = pg_text_array(working, (size_t)pol->nworking);
	int rc = -1;
	if (clocks && wclocks) {
		const char *p[] = {id,	      r->urgency, r->severity, prio,
				   r->reason, pol->name,  secs[0],     secs[1],
				   secs[2],   secs[3],	  clocks,      secs[4],
				   secs[5],   secs[6],	  wclocks,     pol->calendar};
		rc = pg_exec(
		    db,
		    "UPDATE classifications SET urgency = $2, severity = $3, priority = "
		    "$4::int, choice_reason = $5, sla_policy = $6, first_response_s = "
		    "$7::int, verification_s = $8::int, resolution_s = $9::int, "
		    "regulatory_s = $10::int, pausable_clocks = $11::text[], accept_s = "
		    "$12::int, whole_cycle_s = $13::int, next_update_s = $14::int, "
		    "working_time_clocks = $15::text[], calendar = $16 WHERE complaint_id = "
		    "$1::uuid",
		    16, p);
	}
	free(clocks);
	free(wclocks);
	return rc;
}

#define REANNOUNCE_SQL                                                                             \
	"SELECT coalesce(encode(received, 'hex'), ''), text_category, text_subcategory, "          \
	"text_reader, coalesce(text_probability, 0), coalesce(outlet_id, '') FROM "                \
	"classifications WHERE complaint_id = $1::uuid"

/* A person changed the sub-category: the complaint is read again with their category (it
 * decides; urgency, severity and priority follow), its SLA policy chosen again, and
 * cp.complaint.classified announced again in the same transaction, so the evidence bundle,
 * the remedies, the clocks and follow-up follow the new category. 1 when announced, 0 when
 * the complaint's facts were not kept (classified before migration 0871), -1 on error. */
static int reannounce(PGconn *db, const char *id, const char *sub, struct review *rv)
{
	const char *p[] = {id};
	PGresult *res = pg_query(db, REANNOUNCE_SQL, 1, p);
	if (!res || PQntuples(res) != 1) {
		PQclear(res);
		return -1;
	}
	Cp__ComplaintReceived *c = received_of(PQgetvalue(res, 0, 0));
	struct classify_result *r = calloc(1, sizeof(*r));
	struct sla_policy pol;
	int vip = c && r && keywords_ensure(db) == 0 ? policy_is_vip(db, c->customer_ref) : -1;
	int rc = !c ? 0 : -1;
	if (c && r && vip >= 0) {
		struct reread x = {c, vip == 1, sub, r};
		keywords_with(reread_with, &x);
		/* the text's own reading stays as the machine made it: the person's choice is
		 * the category, the model's is kept beside it for the next training */
		snprintf(r->text_category, sizeof(r->text_category), "%s", PQgetvalue(res, 0, 1));
		snprintf(r->text_subcategory, sizeof(r->text_subcategory), "%s",
			 PQgetvalue(res, 0, 2));
		snprintf(r->text_reader, sizeof(r->text_reader), "%s", PQgetvalue(res, 0, 3));
		r->text_probability = atof(PQgetvalue(res, 0, 4));
		if (policy_choose(db, c->channel, r, &pol) == 0 &&
		    store_reread(db, id, r, &pol) == 0 &&
		    classification_announce(db, c, r, &pol, PQgetvalue(res, 0, 5)) == 0) {
			snprintf(rv->sla_policy, sizeof(rv->sla_policy), "%s", pol.name);
			rc = 1;
		}
	}
	if (c)
		cp__complaint_received__free_unpacked(c, NULL);
	free(r);
	PQclear(res);
	return rc;
}

static enum review_result review_tx(PGconn *db, const char *no, const char *sub,
				    const struct auth_principal *who, struct review *rv)
{
	const char *p[] = {no};
	if (pg_begin(db) != 0)
		return REVIEW_FAILED;
	PGresult *res = pg_query(db, CASE_FOR_REVIEW_SQL, 1, p);
	enum review_result rc = !res		      ? REVIEW_FAILED
				: PQntuples(res) == 0 ? REVIEW_UNKNOWN
						      : may_review(db, res, who);
	if (rc == REVIEW_OK) {
		snprintf(rv->complaint_id, sizeof(rv->complaint_id), "%s", PQgetvalue(res, 0, 0));
		snprintf(rv->previous, sizeof(rv->previous), "%s", PQgetvalue(res, 0, 1));
		int again = 0;
		if (record(db, sub, who, rv) != 0 ||
		    (strcmp(rv->previous, sub) != 0 &&
		     (again = reannounce(db, rv->complaint_id, sub, rv)) < 0) ||
		    pg_commit(db) != 0)
			rc = REVIEW_FAILED;
		rv->announced = again == 1;
	}
	PQclear(res);
	if (rc != REVIEW_OK)
		pg_rollback(db);
	return rc;
}

static void review_reply(struct http_req *r, enum review_result rc, const char *sub,
			 const struct review *rv)
{
	if (rc == REVIEW_UNKNOWN)
		http_reply_error(r, 404, "not_found",
				 "no classification for this complaint number");
	else if (rc == REVIEW_NOT_OWNER || rc == REVIEW_CONFLICT)
		auth_case_refuse(r,
				 rc == REVIEW_CONFLICT ? AUTH_CASE_CONFLICT : AUTH_CASE_NOT_OWNER,
				 "set this case's category");
	else if (rc != REVIEW_OK)
		http_reply_error(r, 503, "unavailable", "the category could not be stored; retry");
	else
		http_reply_json(
		    r, 200,
		    json_pack("{s:s, s:s, s:s, s:s, s:b, s:I, s:b, s:s?}", "complaint_no",
			      r->params[0], "category", classify_category_of(sub), "subcategory",
			      sub, "previous_subcategory", rv->previous, "needs_review", 0,
			      "labelled_example_id", (json_int_t)rv->example_id, "announced",
			      rv->announced, "sla_policy", rv->announced ? rv->sla_policy : NULL));
}

void textreview_put(struct http_req *r, void *arg)
{
	struct auth_principal who;
	if (auth_caller(r, &who) != 0)
		return;
	json_t *body = http_req_json(r);
	if (!body)
		return;
	const json_t *v = json_object_get(body, "subcategory");
	const char *sub = json_is_string(v) ? json_string_value(v) : NULL;
	if (!sub || !classify_category_of(sub)) {
		json_t *errors = json_array();
		json_array_append_new(errors,
				      http_field("subcategory", "must be a known sub-category"));
		http_reply_fields(r, 422, "validation_failed", errors);
	} else {
		struct review rv = {0};
		enum review_result rc = review_tx(r->db, r->params[0], sub, &who, &rv);
		if (rc == REVIEW_OK)
			log_msg(LOG_INFO, "classification_reviewed",
				LOG_KV({"complaint_no", r->params[0]}, {"subcategory", sub},
				       {"previous", rv.previous}, {"staff_id", who.staff_id}),
				"category set by a person");
		review_reply(r, rc, sub, &rv);
	}
	json_decref(body);
}

/* --- GET /v1/classification-reviews: the readings waiting for a person --- */

/* An agent sees the cases they own, a supervisor or admin all; oldest first. */
#define QUEUE_SQL                                                                                  \
	"SELECT coalesce(json_agg(json_build_object('complaint_no', q.complaint_no, 'category', "  \
	"q.category, 'subcategory', q.subcategory, 'text_subcategory', q.text_subcategory, "       \
	"'text_probability', q.text_probability, 'owner_staff_id', q.owner, 'classified_at', "     \
	"q.classified_at) ORDER BY q.classified_at, q.complaint_no), '[]')::text FROM (SELECT "    \
	"c.complaint_no, c.category, c.subcategory, c.text_subcategory, c.text_probability, "      \
	"a.owner_staff_id AS owner, c.classified_at FROM classifications c LEFT JOIN assignments " \
	"a USING (complaint_id) WHERE c.needs_review AND ($1 = '' OR a.owner_staff_id = $1) "      \
	"ORDER BY c.classified_at, c.complaint_no LIMIT 200) q"

void textreview_queue(struct http_req *r, void *arg)
{
	struct auth_principal who;
	if (auth_caller(r, &who) != 0)
		return;
	const char *p[] = {who.role & (AUTH_SUPERVISOR | AUTH_ADMIN) ? "" : who.staff_id};
	PGresult *res = pg_query(r->db, QUEUE_SQL, 1, p);
	json_t *list = res ? json_loads(PQgetvalue(res, 0, 0), 0, NULL) : NULL;
	PQclear(res);
	if (!list) {
		http_reply_error(r, 503, "unavailable",
				 "the review queue could not be read; retry");
		return;
	}
	http_reply_json(r, 200, json_pack("{s:o}", "reviews", list));
}
