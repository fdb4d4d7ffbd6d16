/* The public complaint API: POST /v1/complaints and GET /v1/complaints/{no}. Runs on HTTP
 * worker threads (r->db); every state change and its event commit in one transaction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "ids.h"
#include "intake.h"
#include "intake.pb-c.h"
#include "log.h"
#include "outbox.h"
#include "pg.h"
#include "topics.h"
#include "tstamp.h"

struct intake_case {
	char id[IDS_UUID_LEN];
	char no[32];
	int repeat_count;
	int priority;
	bool attached;
	bool is_repeat;
	bool joined_proactive; /* the complaint adopted itself onto the waybill's proactive case */
	char previous_id[IDS_UUID_LEN];
	int status;
	const struct intake_delay *delay; /* a proactive case's stuck parcel, else NULL */
};

static int complaint_type_enum(const char *t)
{
	if (strcmp(t, "damage") == 0)
		return CP__COMPLAINT_TYPE__COMPLAINT_TYPE_DAMAGE;
	if (strcmp(t, "delay") == 0)
		return CP__COMPLAINT_TYPE__COMPLAINT_TYPE_DELAY;
	if (strcmp(t, "loss") == 0)
		return CP__COMPLAINT_TYPE__COMPLAINT_TYPE_LOSS;
	return CP__COMPLAINT_TYPE__COMPLAINT_TYPE_OTHER;
}

/* The case's received event as an outbox row for insert_case's statement (0), or held by
 * outbox_defer (1, a proactive case opened by the consumer), or -1. */
static int announce_received(struct outbox_row *row, const struct intake_input *in,
			     const struct intake_case *k, const char *customer_ref)
{
	Cp__ComplaintReceived ev = CP__COMPLAINT_RECEIVED__INIT;
	Cp__Impact impact = CP__IMPACT__INIT;
	Cp__ComplaintTarget target = CP__COMPLAINT_TARGET__INIT;
	char *goods[INTAKE_MAX_GOODS], *demand[INTAKE_MAX_DEMAND], now[TSTAMP_LEN];
	char *redacted = malloc(sizeof(in->description) + 64);
	if (!redacted)
		return -1;
	intake_redact(in->description, in->name, redacted, sizeof(in->description) + 64);
	for (int i = 0; i < in->ngoods; i++)
		goods[i] = (char *)in->goods[i];
	for (int i = 0; i < in->ndemand; i++)
		demand[i] = (char *)in->demand[i];
	impact.n_goods = (size_t)in->ngoods;
	impact.goods = goods;
	impact.declared_value_fen = in->declared_value_fen;
	impact.perishable = in->perishable;
	impact.insured = in->insured;
	impact.insured_value_fen = in->insured_value_fen;
	impact.freight_fen = in->freight_fen;
	target.kind = (char *)in->target_kind;
	target.id = (char *)in->target_id;
	tstamp_format(tstamp_now_ms(), now);
	ev.complaint_id = (char *)k->id;
	ev.complaint_no = (char *)k->no;
	ev.channel = (char *)in->channel;
	ev.waybill_no = (char *)in->waybill_no;
	ev.customer_ref = (char *)customer_ref;
	ev.role = (char *)in->role;
	ev.type = (Cp__ComplaintType)complaint_type_enum(in->type);
	ev.impact = &impact;
	ev.n_demand = (size_t)in->ndemand;
	ev.demand = demand;
	ev.target = in->target_kind[0] ? &target : NULL;
	ev.description_redacted = redacted;
	ev.language = (char *)in->language;
	ev.received_at = now;
	ev.repeat = k->is_repeat;
	ev.previous_complaint_id = (char *)k->previous_id;
	ev.repeat_count = k->repeat_count;
	ev.outlet_id = (char *)in->outlet_id;
	ev.attachment_count = in->nattachments;
	ev.preferred_contact = (char *)in->preferred_contact;
	if (k->delay) {
		/* the person to tell travels as a pseudonym, like every complainant */
		if (k->delay->recipient_ref[0])
			ev.customer_ref = (char *)k->delay->recipient_ref;
		ev.delay_reason = (char *)k->delay->reason;
		ev.delay_place = (char *)k->delay->place;
		ev.delay_hours = k->delay->hours;
	}
	int rc =
	    outbox_row_init(row, TOPIC_RECEIVED, k->id, "cp.complaint.received", &ev.base, NULL);
	free(redacted);
	return rc;
}

/* The customer wrote again on a case: as a repeat of their open case, or as the complainant a
 * proactive case adopts (customer_ref set: the event then tells the other services who to
 * write to). The owner reads the words in the conversation, redacted as in the event. */
static int announce_message(struct pg_pipe *p, const struct intake_input *in,
			    const struct intake_case *k, const char *kind, const char *customer_ref)
{
	Cp__ComplaintMessageAdded ev = CP__COMPLAINT_MESSAGE_ADDED__INIT;
	char now[TSTAMP_LEN];
	char *redacted = malloc(sizeof(in->description) + 64);
	if (!redacted)
		return -1;
	intake_redact(in->description, in->name, redacted, sizeof(in->description) + 64);
	tstamp_format(tstamp_now_ms(), now);
	ev.complaint_id = (char *)k->id;
	ev.complaint_no = (char *)k->no;
	ev.kind = (char *)kind;
	ev.text_redacted = redacted;
	ev.added_at = now;
	if (customer_ref) {
		ev.customer_ref = (char *)customer_ref;
		ev.language = (char *)in->language;
		ev.preferred_contact = (char *)in->preferred_contact;
		ev.role = (char *)in->role;
	} else {
		ev.repeat_count = k->repeat_count;
	}
	const char *params[] = {k->id, redacted, kind};
	pg_pipe_add(p,
		    "INSERT INTO conversation (complaint_id, direction, kind, actor, text) "
		    "VALUES ($1, 'from_customer', $3, 'customer', $2)",
		    3, params);
	int rc =
	    outbox_pipe_add(p, TOPIC_RECEIVED, k->id, "cp.complaint.message_added", &ev.base, NULL);
	free(redacted);
	return rc;
}

/* The same customer and waybill with an open case: the complaint joins that case. */
int intake_customer_refs(const char *phone, int64_t now_ms, char refs[][30])
{
	const char *keys[AUTH_KEYRING_MAX + 1];
	int n = auth_keyring_accepted(&intake_cfg.pseudonym_keys, now_ms, keys);
	for (int i = 0; i < n; i++)
		if (ids_customer_ref(keys[i], phone, refs[i]) != 0)
			return -1;
	return n;
}

static int attach_repeat(struct pg_pipe *p, const struct intake_input *in, struct intake_case *k)
{
	char count[16], prio[16];
	snprintf(count, sizeof(count), "%d", k->repeat_count);
	snprintf(prio, sizeof(prio), "%d", k->priority);
	const char *u[] = {k->id, count, prio};
	pg_pipe_add(p,
		    "UPDATE complaints SET repeat_count = $2, priority = $3, updated_at = now() "
		    "WHERE id = $1",
		    3, u);
	const char *t[] = {k->id, count};
	pg_pipe_add(
	    p,
	    "INSERT INTO timeline (complaint_id, step, detail) VALUES ($1, 'repeat_message', "
	    "jsonb_build_object('repeat_count', $2::int))",
	    2, t);
	k->attached = true;
	k->status = 200;
	return announce_message(p, in, k, "repeat", NULL);
}

/* The carrier opened the case before this customer complained: the complaint joins it and
 * the case takes the complainant (issue 9), so every later message reaches them. The case
 * keeps its channel (proactive) and with it its SLA policy and offers. */
static int adopt_proactive(struct pg_pipe *p, const struct intake_input *in, struct intake_case *k,
			   const char *customer_ref)
{
	const char *u[] = {k->id,	 customer_ref,	       in->name, in->phone, in->role,
			   in->language, in->preferred_contact};
	pg_pipe_add(p,
		    "UPDATE complaints SET customer_ref = $2, complainant_name = $3, "
		    "complainant_phone = $4, role = $5, language = $6, preferred_contact = $7, "
		    "updated_at = now() WHERE id = $1",
		    7, u);
	const char *t[] = {k->id, in->entered_by[0] ? "staff" : "customer"};
	pg_pipe_add(p,
		    "INSERT INTO timeline (complaint_id, step, detail) VALUES ($1, "
		    "'complainant_joined', jsonb_build_object('entered_by', $2::text))",
		    2, t);
	k->attached = true;
	k->joined_proactive = true;
	k->status = 200;
	log_msg(LOG_INFO, "proactive_case_adopted", LOG_KV({"complaint_no", k->no}),
		"a complaint joined the proactive case of its waybill");
	return announce_message(p, in, k, "adopted", customer_ref);
}

/* CPyyyymmdd-XXXXXXXX: the day in UTC and a random code of 8 unambiguous characters (31^8,
 * about 8.5e11 a day). A counter would tell anyone how many complaints a carrier gets and let
 * them walk every case by number; the proof (view.c) is the lock, the random number keeps the
 * door unmarked. The unique index catches the one-in-billions collision (the POST answers 503
 * and the client's retry with its Idempotency-Key draws again). */
static int next_complaint_no(PGconn *c, const char *day, char *out, size_t cap)
{
	char code[9];
	ids_public_code(code, 8);
	if (day) { /* the POST read the transaction's day with its locks */
		snprintf(out, cap, "CP%s-%s", day, code);
		return 0;
	}
	PGresult *r = pg_query(c, "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDD')", 0, NULL);
	if (!r)
		return -1;
	snprintf(out, cap, "CP%s-%s", PQgetvalue(r, 0, 0), code);
	PQclear(r);
	return 0;
}

/* The idempotency key a new case is stored with (NULL key: none), written by the same
 * statement as the case. */
struct intake_idem {
	const char *key;
	const char *hash;
};

/* The case, its first timeline row, (with idem) its idempotency key and its event in one
 * statement (issue 14: four where there were once fifteen; the timeline row and the key
 * reference the case: their foreign keys are checked at the end of the statement, the case
 * inserted). The event goes as its own CTE's last insert unless the consumer's outbox_defer
 * holds it (a proactive case), which writes it with the batch's other events. */
#define CASE_SQL                                                                                   \
	"WITH c AS (INSERT INTO complaints (id, complaint_no, channel, waybill_no, customer_ref, " \
	"complainant_name, complainant_phone, role, language, preferred_contact, outlet_id, "      \
	"description, type, impact, demand, target, attachments, priority, is_repeat, "            \
	"previous_complaint_id, entered_by) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,"   \
	"$14,$15,$16,$17,$18,$19,$20,$21) RETURNING id), t AS (INSERT INTO timeline "              \
	"(complaint_id, step, detail) SELECT id, 'received', jsonb_build_object('channel', "       \
	"$3::text, 'entered_by', $22::text) FROM c)"
#define CASE_KEY_SQL                                                                               \
	"INSERT INTO idempotency_keys (key, request_hash, complaint_id, status) SELECT $23, $24, " \
	"id, 201 FROM c WHERE $23::text IS NOT NULL"
enum { CASE_NPARAMS = 24 };

static int queue_case(struct pg_pipe *p, const char *const *v, const struct outbox_row *ev)
{
	const char *params[CASE_NPARAMS + 7];
	int lengths[CASE_NPARAMS + 7] = {0}, formats[CASE_NPARAMS + 7] = {0};
	memcpy(params, v, CASE_NPARAMS * sizeof(*v));
	memcpy(params + CASE_NPARAMS, ev->values, sizeof(ev->values));
	memcpy(lengths + CASE_NPARAMS, ev->lengths, sizeof(ev->lengths));
	memcpy(formats + CASE_NPARAMS, ev->formats, sizeof(ev->formats));
	return pg_pipe_add_bin(p,
			       CASE_SQL
			       ", i AS (" CASE_KEY_SQL ") INSERT INTO outbox (ce_id, "
			       "ce_type, ce_source, ce_time, topic, msg_key, payload) VALUES "
			       "($25, $26, $27, $28, $29, $30, $31)",
			       CASE_NPARAMS + 7, params, lengths, formats) < 0
		   ? -1
		   : 0;
}

/* The case with its timeline row, key and event (queue_case), queued on p (written when p
 * runs). day: the transaction's day (NULL: read it on c now). */
static int insert_case(PGconn *c, struct pg_pipe *p, const struct intake_input *in,
		       struct intake_case *k, const char *customer_ref, const char *day,
		       const struct intake_idem *idem)
{
	char prio[16];
	ids_uuid(k->id);
	if (next_complaint_no(c, day, k->no, sizeof(k->no)) != 0)
		return -1;
	k->priority = intake_initial_priority(in);
	if (k->is_repeat && k->priority > 1)
		k->priority--;
	snprintf(prio, sizeof(prio), "%d", k->priority);
	json_t *goods = json_array();
	for (int i = 0; i < in->ngoods; i++)
		json_array_append_new(goods, json_string(in->goods[i]));
	json_t *im =
	    json_pack("{s:o, s:I, s:b, s:b, s:I, s:I}", "goods", goods, "declared_value_fen",
		      (json_int_t)in->declared_value_fen, "perishable", in->perishable, "insured",
		      in->insured, "insured_value_fen", (json_int_t)in->insured_value_fen,
		      "freight_fen", (json_int_t)in->freight_fen);
	char *impact = json_dumps(im, JSON_COMPACT);
	json_decref(im);
	/* jansson and pg_text_array escape what a customer may type; snprintf did not */
	char *target = intake_target_json(in);
	const char *dv[INTAKE_MAX_DEMAND];
	for (int i = 0; i < in->ndemand; i++)
		dv[i] = in->demand[i];
	char *demand = pg_text_array(dv, (size_t)in->ndemand);
	int rc = impact && demand && (target || !in->target_kind[0]) ? 0 : -1;
	const char *v[] = {k->id,
			   k->no,
			   in->channel,
			   in->waybill_no,
			   customer_ref,
			   in->name,
			   in->phone,
			   in->role,
			   in->language,
			   in->preferred_contact,
			   in->outlet_id[0] ? in->outlet_id : NULL,
			   in->description,
			   in->type,
			   impact,
			   demand,
			   target,
			   in->attachments_json,
			   prio,
			   k->is_repeat ? "true" : "false",
			   k->previous_id[0] ? k->previous_id : NULL,
			   in->entered_by[0] ? in->entered_by : NULL,
			   in->entered_by[0] ? "staff" : "customer",
			   idem && idem->key ? idem->key : NULL,
			   idem && idem->key ? idem->hash : NULL};
	struct outbox_row ev = {0};
	int held = rc == 0 ? announce_received(&ev, in, k, customer_ref) : -1;
	if (held == 0)
		rc = queue_case(p, v, &ev);
	else if (held == 1)
		rc = pg_pipe_add(p, CASE_SQL " " CASE_KEY_SQL, 24, v) < 0 ? -1 : 0;
	else
		rc = -1;
	outbox_row_clear(&ev);
	free(impact);
	free(target);
	free(demand);
	if (rc != 0)
		return -1;
	k->status = 201;
	return 0;
}

static void idempotency_store(struct pg_pipe *p, const char *key, const char *hash,
			      const struct intake_case *k)
{
	char status[8];
	snprintf(status, sizeof(status), "%d", k->status);
	const char *v[] = {key, hash, k->id, status};
	pg_pipe_add(p,
		    "INSERT INTO idempotency_keys (key, request_hash, complaint_id, status) "
		    "VALUES ($1, $2, $3, $4)",
		    4, v);
}

/* The POST's locks, in one statement and always in this order (so two POSTs never wait on each
 * other crosswise; intake_open_proactive takes only the last): the Idempotency-Key, the
 * customer and waybill (one case per customer and waybill opens at a time), the waybill's
 * proactive case (a stuck event and a complaint never both open one); and the transaction's
 * day for the complaint number. The lookups come in the next statement: in READ COMMITTED
 * that one's snapshot is taken after the locks are held, so it sees whatever the previous
 * holder committed. */
#define POST_LOCKS_SQL                                                                             \
	"SELECT pg_advisory_xact_lock(hashtextextended($1, 7)), "                                  \
	"pg_advisory_xact_lock(hashtextextended($2, 7)), "                                         \
	"to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDD')"
#define POST_LOCKS_KEY_SQL                                                                         \
	"SELECT pg_advisory_xact_lock(hashtextextended($1, 42)), "                                 \
	"pg_advisory_xact_lock(hashtextextended($2, 7)), "                                         \
	"pg_advisory_xact_lock(hashtextextended($3, 7)), "                                         \
	"to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDD')"

/* Everything the POST decides on, in one statement ($1 key, $2 the customer's pseudonyms under
 * every accepted key, $3 waybill, $4 type, $5 repeat window days): the key's earlier use
 * (columns 0-6), the customer's open case on the waybill, locked (7-11), the waybill's pickup
 * (12-13), its unclaimed proactive case, locked (14-16), the latest closed case of the same
 * type within the repeat window (17). A row is locked whether or not the decision then needs
 * it; the transaction ends within milliseconds either way. */
#define POST_LOOKUP_SQL                                                                            \
	"SELECT i.request_hash, i.id, i.complaint_no, i.repeat_count, i.is_repeat, i.status, "     \
	"i.proactive, o.id, o.complaint_no, o.repeat_count, o.priority, o.proactive, p.ms, "       \
	"p.at, a.id, a.complaint_no, a.repeat_count, r.id FROM (SELECT 1) one "                    \
	"LEFT JOIN LATERAL (SELECT i.request_hash, c.id, c.complaint_no, c.repeat_count, "         \
	"c.is_repeat, i.status, c.channel = 'proactive' AS proactive FROM idempotency_keys i "     \
	"JOIN complaints c ON c.id = i.complaint_id WHERE i.key = $1) i ON true "                  \
	"LEFT JOIN LATERAL (SELECT id, complaint_no, repeat_count, priority, channel = "           \
	"'proactive' AS proactive FROM complaints WHERE customer_ref = ANY($2::text[]) AND "       \
	"waybill_no = $3 AND status NOT IN ('closed', 'merged', 'withdrawn') ORDER BY "            \
	"received_at DESC LIMIT 1 FOR UPDATE) o ON true "                                          \
	"LEFT JOIN LATERAL (SELECT (extract(epoch FROM picked_up_at) * 1000)::bigint AS ms, "      \
	"to_char(picked_up_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS at FROM "   \
	"pickups WHERE waybill_no = $3) p ON true "                                                \
	"LEFT JOIN LATERAL (SELECT id, complaint_no, repeat_count FROM complaints WHERE "          \
	"waybill_no = $3 AND channel = 'proactive' AND customer_ref = 'proactive' AND status NOT " \
	"IN ('closed', 'merged', 'withdrawn') ORDER BY received_at DESC LIMIT 1 FOR UPDATE) a ON " \
	"true "                                                                                    \
	"LEFT JOIN LATERAL (SELECT id FROM complaints WHERE waybill_no = $3 AND type = $4 AND "    \
	"status = 'closed' AND closed_at > now() - make_interval(days => $5::int) ORDER BY "       \
	"closed_at DESC LIMIT 1) r ON true"

static bool post_has(const PGresult *r, int col)
{
	return !PQgetisnull(r, 0, col);
}

/* The key used before: 1 with the same body (k filled for the replay), -2 with another. */
static int post_replay(const PGresult *r, const char *hash, struct intake_case *k)
{
	snprintf(k->id, sizeof(k->id), "%s", PQgetvalue(r, 0, 1));
	snprintf(k->no, sizeof(k->no), "%s", PQgetvalue(r, 0, 2));
	k->repeat_count = atoi(PQgetvalue(r, 0, 3));
	k->is_repeat = PQgetvalue(r, 0, 4)[0] == 't';
	k->status = atoi(PQgetvalue(r, 0, 5));
	k->attached = k->status == 200;
	k->joined_proactive = k->attached && PQgetvalue(r, 0, 6)[0] == 't';
	return strcmp(PQgetvalue(r, 0, 0), hash) == 0 ? 1 : -2;
}

/* The decision on the looked-up rows: a repeat joins the customer's open case; else the filing
 * window holds (for a complaint that would join a proactive case too), then the complaint
 * adopts the waybill's unclaimed proactive case or opens a new one (a repeat of a recently
 * closed one when there is one). Returns 0, -1 (error) or -3 (filing window passed). */
static int post_decide(PGconn *c, struct pg_pipe *p, const struct intake_input *in,
		       const PGresult *r, const char *customer_ref, const char *day,
		       const struct intake_idem *idem, struct intake_case *k, char *problem,
		       size_t cap)
{
	if (post_has(r, 7)) {
		snprintf(k->id, sizeof(k->id), "%s", PQgetvalue(r, 0, 7));
		snprintf(k->no, sizeof(k->no), "%s", PQgetvalue(r, 0, 8));
		k->repeat_count = atoi(PQgetvalue(r, 0, 9)) + 1;
		k->priority = atoi(PQgetvalue(r, 0, 10));
		k->priority = k->priority > 1 ? k->priority - 1 : 1;
		/* the same answer as when the customer first joined the proactive case */
		k->joined_proactive = PQgetvalue(r, 0, 11)[0] == 't';
		return attach_repeat(p, in, k);
	}
	if (post_has(r, 12) &&
	    !intake_filing_window_ok(strtoll(PQgetvalue(r, 0, 12), NULL, 10), tstamp_now_ms(),
				     intake_cfg.filing_window_days, PQgetvalue(r, 0, 13), problem,
				     cap))
		return -3;
	if (post_has(r, 14)) {
		snprintf(k->id, sizeof(k->id), "%s", PQgetvalue(r, 0, 14));
		snprintf(k->no, sizeof(k->no), "%s", PQgetvalue(r, 0, 15));
		k->repeat_count = atoi(PQgetvalue(r, 0, 16));
		return adopt_proactive(p, in, k, customer_ref);
	}
	if (post_has(r, 17)) {
		k->is_repeat = true;
		snprintf(k->previous_id, sizeof(k->previous_id), "%s", PQgetvalue(r, 0, 17));
	}
	return insert_case(c, p, in, k, customer_ref, day, idem);
}

/* A proactive case: the evidence service saw the parcel stuck and the carrier wants a case
 * before anyone complains. No complainant yet (customer_ref "proactive"); one open proactive case
 * per waybill. Runs inside the consumer's transaction. */
int intake_open_proactive(PGconn *c, const struct intake_delay *d)
{
	struct intake_input *in = calloc(1, sizeof(*in));
	struct intake_case k = {.delay = d};
	char lock[64];
	int rc = -1;
	if (!in)
		return -1;
	snprintf(lock, sizeof(lock), "proactive/%s", d->waybill_no);
	const char *p[] = {lock}, *w[] = {d->waybill_no};
	if (pg_exec(c, "SELECT pg_advisory_xact_lock(hashtextextended($1, 7))", 1, p) != 0)
		goto out;
	PGresult *r = pg_query(c,
			       "SELECT 1 FROM complaints WHERE waybill_no = $1 AND channel = "
			       "'proactive' AND status NOT IN ('closed', 'merged', 'withdrawn')",
			       1, w);
	if (!r)
		goto out;
	bool open = PQntuples(r) > 0;
	PQclear(r);
	rc = 0;
	if (open)
		goto out;
	snprintf(in->channel, sizeof(in->channel), "proactive");
	snprintf(in->waybill_no, sizeof(in->waybill_no), "%s", d->waybill_no);
	snprintf(in->role, sizeof(in->role), "recipient");
	/* the recipient's language and channel when the tracking feed named them */
	snprintf(in->language, sizeof(in->language), "%s",
		 strcmp(d->recipient_language, "en") == 0 ? "en" : "zh-CN");
	snprintf(in->preferred_contact, sizeof(in->preferred_contact), "%s",
		 d->recipient_contact[0] ? d->recipient_contact : "sms");
	snprintf(in->type, sizeof(in->type), "delay");
	/* the staff of the facility holding the parcel are the ones who can move it: classification
	 * offers the case there first (the case's outlet), outlet or hub alike */
	snprintf(in->outlet_id, sizeof(in->outlet_id), "%s", d->facility_id);
	snprintf(in->description, sizeof(in->description), "%s", d->description);
	snprintf(in->attachments_json, sizeof(in->attachments_json), "[]");
	struct pg_pipe pipe;
	pg_pipe_init(&pipe);
	rc = insert_case(c, &pipe, in, &k, "proactive", NULL, NULL);
	if (rc == 0)
		rc = pg_pipe_run(c, &pipe);
	pg_pipe_clear(&pipe);
	if (rc == 0)
		log_msg(LOG_INFO, "proactive_case_opened", LOG_KV({"complaint_no", k.no}),
			"a stuck parcel opened a case before any complaint%s",
			d->recipient_ref[0] ? "; its recipient is told" : "");
out:
	free(in);
	return rc;
}

static void reply_case(struct http_req *r, const struct intake_case *k, bool replayed)
{
	char link[512], token[33];
	if (auth_customer_token(intake_cfg.link_secret, k->no, token) != 0)
		token[0] = '\0';
	/* the customer's link opens the console's status page (a page a phone can show), which
	 * reads GET /v1/complaints/{no}?token= with the same token */
	snprintf(link, sizeof(link), "%s/c/status/%s?token=%s", intake_cfg.public_base_url, k->no,
		 token);
	snprintf(r->location, sizeof(r->location), "/v1/complaints/%s", k->no);
	json_t *body =
	    json_pack("{s:s, s:s, s:s, s:b, s:b, s:b, s:i, s:b}", "complaint_id", k->id,
		      "complaint_no", k->no, "link", link, "attached_to_open_case", k->attached,
		      "joined_proactive_case", k->joined_proactive, "repeat", k->is_repeat,
		      "repeat_count", k->repeat_count, "idempotent_replay", replayed);
	http_reply_json(r, k->status ? k->status : 201, body);
}

static bool idempotency_key_valid(const char *key)
{
	size_t n = strlen(key);
	if (n == 0 || n > 100)
		return false;
	for (size_t i = 0; i < n; i++)
		if (key[i] < 0x21 || key[i] > 0x7e)
			return false;
	return true;
}

/* POST's transaction for a new case: BEGIN, the locks, the lookups, the case with its timeline
 * row, key and event, COMMIT: five statements (fifteen before issue 14; tests/bench/
 * intake_tx.sql runs the same ones) in two network flights (pg_pipe): what the lookup found
 * decides what is written, nothing else waits for an answer. Returns 0, 1 replay, -2 key
 * reused with another body, -3 filing window passed, -1 error. */
static int post_tx(struct http_req *r, const struct intake_input *in, const char *key,
		   const char *hash, struct intake_case *k, bool *replayed, char *problem,
		   size_t cap)
{
	/* the customer under every pseudonym key still accepted: a case filed before a key
	 * rotation is the same customer's (until `cp-admin pseudonyms rekey` moved it) */
	char refs[AUTH_KEYRING_MAX + 1][30], list[(AUTH_KEYRING_MAX + 1) * 32] = "{";
	char customer_ref[30], cust_lock[96], pro_lock[64], days[16], day[16];
	int nrefs = intake_customer_refs(in->phone, tstamp_now_ms(), refs);
	if (nrefs < 0 || ids_customer_ref(intake_cfg.pseudonym_key, in->phone, customer_ref) != 0)
		return -1;
	for (int i = 0; i < nrefs; i++) /* "cust_" and hex: nothing to quote */
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? "," : "",
			 refs[i]);
	snprintf(list + strlen(list), sizeof(list) - strlen(list), "}");
	snprintf(cust_lock, sizeof(cust_lock), "%s/%s", customer_ref, in->waybill_no);
	snprintf(pro_lock, sizeof(pro_lock), "proactive/%s", in->waybill_no);
	snprintf(days, sizeof(days), "%lld", intake_cfg.repeat_window_days);
	const char *lp[] = {key, cust_lock, pro_lock};
	const char *qp[] = {key, list, in->waybill_no, in->type, days};
	struct pg_pipe p;
	int rc = -1;
	/* first flight: the lookup runs after the locks are held (statements run in order) */
	pg_pipe_init(&p);
	pg_pipe_begin(&p);
	int at_locks = key ? pg_pipe_add(&p, POST_LOCKS_KEY_SQL, 3, lp)
			   : pg_pipe_add(&p, POST_LOCKS_SQL, 2, lp + 1);
	int at_found = pg_pipe_add(&p, POST_LOOKUP_SQL, 5, qp);
	if (pg_pipe_run(r->db, &p) != 0)
		goto failed;
	PGresult *found = pg_pipe_result(&p, at_found);
	snprintf(day, sizeof(day), "%s", PQgetvalue(pg_pipe_result(&p, at_locks), 0, key ? 3 : 2));
	if (post_has(found, 0)) {
		rc = post_replay(found, hash, k);
		*replayed = rc == 1;
		goto failed; /* nothing to write */
	}
	/* second flight: the writes the decision queued, and COMMIT */
	struct pg_pipe w;
	struct intake_idem idem = {key, hash};
	pg_pipe_init(&w);
	rc = post_decide(r->db, &w, in, found, customer_ref, day, &idem, k, problem, cap);
	/* a new case stored its key with it; a repeat or an adoption stores it here */
	if (rc == 0 && key && k->status != 201)
		idempotency_store(&w, key, hash, k);
	if (rc == 0) {
		pg_pipe_commit(&w);
		rc = pg_pipe_run(r->db, &w); /* ends the transaction either way */
	} else {
		pg_rollback(r->db);
	}
	pg_pipe_clear(&w);
	pg_pipe_clear(&p);
	return rc == -3 ? -3 : rc == 0 ? 0 : -1;
failed:
	pg_pipe_clear(&p);
	pg_rollback(r->db);
	return rc;
}

static void post_reply(struct http_req *r, int rc, const struct intake_case *k, bool replayed,
		       const char *problem)
{
	if (rc == -2)
		http_reply_fields(r, 422, "idempotency_conflict",
				  json_pack("[{s:s, s:s}]", "field", "Idempotency-Key", "problem",
					    "was used before with a different request body"));
	else if (rc == -3)
		http_reply_fields(
		    r, 422, "filing_window_passed",
		    json_pack("[{s:s, s:s}]", "field", "waybill_no", "problem", problem));
	else if (rc < 0)
		http_reply_error(r, 503, "unavailable", "the complaint could not be stored; retry");
	else
		reply_case(r, k, replayed);
}

/* Shared by the customer's and the agent's POST; entered_by is NULL for the customer. */
static void post_complaint(struct http_req *r, const char *entered_by)
{
	const char *key = http_req_header(r, "Idempotency-Key");
	if (key && !idempotency_key_valid(key)) {
		http_reply_fields(r, 400, "invalid_header",
				  json_pack("[{s:s, s:s}]", "field", "Idempotency-Key", "problem",
					    "must be 1 to 100 printable ASCII characters"));
		return;
	}
	json_t *body = http_req_json(r);
	if (!body)
		return;
	struct intake_input *in = calloc(1, sizeof(*in));
	json_t *errors = json_array();
	struct intake_case k = {0};
	bool replayed = false;
	char hash[65], problem[256] = "";
	if (!in || !intake_parse(body, in, errors)) {
		http_reply_fields(r, 422, "validation_failed", errors);
		errors = NULL;
		goto out;
	}
	if (entered_by)
		snprintf(in->entered_by, sizeof(in->entered_by), "%s", entered_by);
	ids_hmac_hex(entered_by ? entered_by : "idempotency", r->body, r->body_len, hash);
	int rc = post_tx(r, in, key, hash, &k, &replayed, problem, sizeof(problem));
	post_reply(r, rc, &k, replayed, problem);
	if (rc == 0 && !replayed)
		log_msg(LOG_INFO, k.attached ? "complaint_attached" : "complaint_received",
			LOG_KV({"complaint_no", k.no}, {"complaint_id", k.id}), "%s",
			k.attached ? "repeat complaint joined its open case" : "complaint stored");
out:
	json_decref(errors);
	json_decref(body);
	free(in);
}

void intake_post_complaint(struct http_req *r, void *arg)
{
	post_complaint(r, NULL);
}

void intake_staff_post_complaint(struct http_req *r, void *arg)
{
	struct auth_principal who;
	if (auth_caller(r, &who) != 0)
		return;
	post_complaint(r, who.staff_id);
}
