/* Event handlers. A received complaint is classified, its SLA policy chosen, stored and
 * announced, offered to the nearest staff, and its first response handed to follow-up, all
 * in the consumer's batch transaction. Tracking scans keep the latest position per waybill. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classification.h"
#include "classification.pb-c.h"
#include "evidence.pb-c.h"
#include "log.h"
#include "outbox.h"
#include "ownership.h"
#include "pg.h"
#include "sla.pb-c.h"
#include "textreader.h"
#include "textreview.h"
#include "topics.h"
#include "tracking.pb-c.h"
#include "tstamp.h"

struct decision {
	struct classify_result r;
	struct sla_policy policy;
	struct route_origin origin;
};

static int validate_received(const ProtobufCMessage *m, char *errstr, size_t errlen)
{
	const Cp__ComplaintReceived *c = (const void *)m;
	if (strlen(c->complaint_id) != 36 || !c->complaint_no[0] || !c->waybill_no[0]) {
		snprintf(errstr, errlen, "complaint_id, complaint_no and waybill_no are required");
		return -1;
	}
	return 0;
}

/* The rows of a char[n][stride] table as a text[] literal (pg_text_array quotes and escapes;
 * a keyword may hold any character). Caller frees; NULL when out of memory. */
static char *rows_array(const char *rows, size_t stride, int n)
{
	const char *v[64];
	int k = 0;
	for (; k < n && k < 64; k++)
		v[k] = rows + (size_t)k * stride;
	return pg_text_array(v, (size_t)k);
}

/* Returns 1 when stored, 0 when this complaint was classified before, -1 on error. */
static int store(PGconn *pg, const Cp__ComplaintReceived *c, const struct decision *d)
{
	static const char *const types[] = {"unspecified", "damage", "delay", "loss", "other"};
	const struct classify_result *r = &d->r;
	char prio[8], secs[4][24];
	snprintf(prio, sizeof(prio), "%d", r->priority);
	snprintf(secs[0], sizeof(secs[0]), "%lld", d->policy.first_response_s);
	snprintf(secs[1], sizeof(secs[1]), "%lld", d->policy.verification_s);
	snprintf(secs[2], sizeof(secs[2]), "%lld", d->policy.resolution_s);
	snprintf(secs[3], sizeof(secs[3]), "%lld", d->policy.regulatory_s);
	char *clocks =
	    rows_array(d->policy.pausable[0], sizeof(d->policy.pausable[0]), d->policy.npausable);
	char *kws = rows_array(r->keywords[0], sizeof(r->keywords[0]), r->nkeywords);
	if (!clocks || !kws) {
		free(clocks);
		free(kws);
		return -1;
	}
	const char *p[] = {c->complaint_id,
			   c->complaint_no,
			   c->waybill_no,
			   c->customer_ref,
			   r->category,
			   r->subcategory,
			   types[c->type % 5],
			   r->reason,
			   r->urgency,
			   r->severity,
			   r->tier,
			   prio,
			   d->policy.name,
			   c->language,
			   kws,
			   r->text_category,
			   r->text_subcategory,
			   r->scenario,
			   d->origin.outlet_id,
			   secs[0],
			   secs[1],
			   secs[2],
			   secs[3],
			   clocks};
	PGresult *res = pg_query(
	    pg,
	    "INSERT INTO classifications (complaint_id, complaint_no, waybill_no, customer_ref, "
	    "category, subcategory, stated_type, choice_reason, urgency, severity, tier, priority, "
	    "sla_policy, language, keywords, text_category, text_subcategory, scenario, outlet_id, "
	    "first_response_s, verification_s, resolution_s, regulatory_s, pausable_clocks) "
	    "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15::text[],$16,$17,$18,"
	    "NULLIF($19, ''),$20::int,$21::int,$22::int,$23::int,$24::text[]) ON CONFLICT "
	    "(complaint_id) DO NOTHING RETURNING 1",
	    24, p);
	free(clocks);
	free(kws);
	if (!res)
		return -1;
	int stored = PQntuples(res) > 0;
	PQclear(res);
	return stored;
}

/* The clocks that time people, kept beside the classification for the case view. */
static int store_people_clocks(PGconn *pg, const Cp__ComplaintReceived *c,
			       const struct sla_policy *p)
{
	char secs[3][24];
	snprintf(secs[0], sizeof(secs[0]), "%lld", p->accept_s);
	snprintf(secs[1], sizeof(secs[1]), "%lld", p->whole_cycle_s);
	snprintf(secs[2], sizeof(secs[2]), "%lld", p->next_update_s);
	char *working = rows_array(p->working[0], sizeof(p->working[0]), p->nworking);
	if (!working)
		return -1;
	const char *v[] = {c->complaint_id, secs[0], secs[1], secs[2], working, p->calendar};
	int rc = pg_exec(pg,
			 "UPDATE classifications SET accept_s = $2::int, whole_cycle_s = $3::int, "
			 "next_update_s = $4::int, working_time_clocks = $5::text[], calendar = $6 "
			 "WHERE complaint_id = $1::uuid",
			 6, v);
	free(working);
	return rc;
}

/* The received complaint as it came (packed protobuf, hex for bytea): a person's correction of
 * the category announces the case again with the same facts (impact, demand, target). The
 * event carries no contact: the customer is a pseudonym and the text is redacted. */
static int store_received(PGconn *pg, const Cp__ComplaintReceived *c)
{
	size_t len = protobuf_c_message_get_packed_size(&c->base);
	uint8_t *buf = malloc(len ? len : 1);
	char *hex = malloc(2 * len + 3);
	int rc = -1;
	if (buf && hex) {
		protobuf_c_message_pack(&c->base, buf);
		hex[0] = '\\';
		hex[1] = 'x';
		for (size_t i = 0; i < len; i++)
			snprintf(hex + 2 + 2 * i, 3, "%02x", buf[i]);
		hex[2 + 2 * len] = '\0';
		const char *p[] = {c->complaint_id, hex};
		rc = pg_exec(pg,
			     "UPDATE classifications SET received = $2::bytea WHERE complaint_id = "
			     "$1::uuid",
			     2, p);
	}
	free(buf);
	free(hex);
	return rc;
}

int classification_announce(PGconn *pg, const Cp__ComplaintReceived *c,
			    const struct classify_result *r, const struct sla_policy *policy,
			    const char *outlet_id)
{
	Cp__ComplaintClassified ev = CP__COMPLAINT_CLASSIFIED__INIT;
	char now[TSTAMP_LEN], *kws[CLASSIFY_MAX_KEYWORDS], *clocks[POLICY_MAX_CLOCKS],
	    *working[POLICY_MAX_WORKING_CLOCKS];
	tstamp_format(tstamp_now_ms(), now);
	for (int i = 0; i < policy->nworking; i++)
		working[i] = (char *)policy->working[i];
	for (int i = 0; i < r->nkeywords; i++)
		kws[i] = (char *)r->keywords[i];
	for (int i = 0; i < policy->npausable; i++)
		clocks[i] = (char *)policy->pausable[i];
	ev.complaint_id = c->complaint_id;
	ev.complaint_no = c->complaint_no;
	ev.waybill_no = c->waybill_no;
	ev.category = (char *)r->category;
	ev.subcategory = (char *)r->subcategory;
	ev.stated_type = c->type;
	ev.n_keywords = (size_t)r->nkeywords;
	ev.keywords = kws;
	ev.choice_reason = (char *)r->reason;
	ev.urgency = (char *)r->urgency;
	ev.severity = (char *)r->severity;
	ev.tier = (char *)r->tier;
	ev.priority = r->priority;
	ev.sla_policy = (char *)policy->name;
	ev.first_response_s = (int32_t)policy->first_response_s;
	ev.verification_s = (int32_t)policy->verification_s;
	ev.resolution_s = (int32_t)policy->resolution_s;
	ev.regulatory_s = (int32_t)policy->regulatory_s;
	ev.n_pausable_clocks = (size_t)policy->npausable;
	ev.pausable_clocks = clocks;
	ev.outlet_id = (char *)outlet_id;
	ev.text_category = (char *)r->text_category;
	ev.text_subcategory = (char *)r->text_subcategory;
	ev.language = c->language;
	ev.customer_ref = c->customer_ref;
	ev.classified_at = now;
	ev.n_demand = c->n_demand;
	ev.demand = c->demand;
	ev.impact = c->impact;
	ev.channel = c->channel;
	ev.repeat = c->repeat;
	ev.target = c->target; /* whom it is about: services that let people decide exclude them */
	ev.accept_s = (int32_t)policy->accept_s;
	ev.whole_cycle_s = (int32_t)policy->whole_cycle_s;
	ev.next_update_s = (int32_t)policy->next_update_s;
	ev.n_working_time_clocks = (size_t)policy->nworking;
	ev.working_time_clocks = working;
	ev.calendar = (char *)policy->calendar;
	return outbox_add(pg, TOPIC_CLASSIFIED, c->complaint_id, "cp.complaint.classified",
			  &ev.base, NULL);
}

/* The parcel's latest scan in the customer's language, from the projection. */
static int latest_scan(PGconn *pg, const Cp__ComplaintReceived *c, char *out, size_t cap)
{
	const char *p[] = {c->waybill_no};
	PGresult *res =
	    pg_query(pg,
		     "SELECT code, city, facility_id, (extract(epoch FROM occurred_at) * "
		     "1000)::bigint FROM parcel_positions WHERE waybill_no = $1",
		     1, p);
	if (!res)
		return -1;
	bool known = PQntuples(res) > 0;
	classify_scan_text(known, known ? atoi(PQgetvalue(res, 0, 0)) : 0,
			   known ? PQgetvalue(res, 0, 1) : "", known ? PQgetvalue(res, 0, 2) : "",
			   known ? strtoll(PQgetvalue(res, 0, 3), NULL, 10) : 0, c->language, out,
			   cap);
	PQclear(res);
	return 0;
}

static int render_text(PGconn *pg, const Cp__ComplaintReceived *c, const char *scenario,
		       int64_t next_ms, char *out, size_t cap)
{
	char scan[256], when[64];
	PGresult *res = NULL;
	if (latest_scan(pg, c, scan, sizeof(scan)) != 0)
		return -1;
	classify_human_time(next_ms, c->language, when, sizeof(when));
	const char *tmpl = policy_template(pg, scenario, c->language, &res);
	if (!tmpl && !res)
		return -1;
	const struct classify_vars v = {c->complaint_no, c->waybill_no, scan, when};
	classify_render(tmpl ? tmpl
			     : "{complaint_no} / {waybill_no}: {latest_scan}; {next_update_by}",
			&v, out, cap);
	PQclear(res);
	return 0;
}

/* The promise of the next update follows the policy's next_update clock. */
static int first_response(PGconn *pg, const Cp__ComplaintReceived *c, const struct decision *d)
{
	Cp__FirstResponse ev = CP__FIRST_RESPONSE__INIT;
	const struct classify_result *r = &d->r;
	char now[TSTAMP_LEN], next[TSTAMP_LEN], text[2048];
	long long next_s = d->policy.next_update_s > 0 ? d->policy.next_update_s
						       : classification_cfg.next_update_s;
	int64_t ms = tstamp_now_ms(), next_ms = ms + next_s * 1000;
	tstamp_format(ms, now);
	tstamp_format(next_ms, next);
	if (render_text(pg, c, r->scenario, next_ms, text, sizeof(text)) != 0)
		return -1;
	ev.complaint_id = c->complaint_id;
	ev.complaint_no = c->complaint_no;
	ev.scenario = (char *)r->scenario;
	ev.language = c->language;
	ev.text = text;
	ev.next_update_by = next;
	ev.at = now;
	return outbox_add(pg, TOPIC_CLASSIFIED, c->complaint_id, "cp.complaint.first_response",
			  &ev.base, NULL);
}

struct classify_call {
	const Cp__ComplaintReceived *c;
	bool vip;
	struct classify_result *out;
};

static void classify_cached(const struct kw_table *kw, void *arg)
{
	struct classify_call *call = arg;
	textreader_classify(call->c, kw, call->vip, call->out);
}

static int decide(PGconn *pg, const Cp__ComplaintReceived *c, struct decision *d)
{
	if (keywords_ensure(pg) != 0)
		return -1;
	int vip = policy_is_vip(pg, c->customer_ref);
	if (vip < 0)
		return -1;
	struct classify_call call = {c, vip == 1, &d->r};
	keywords_with(classify_cached, &call);
	if (policy_choose(pg, c->channel, &d->r, &d->policy) != 0)
		return -1;
	return offers_locate(pg, c, &d->origin);
}

static int on_received(PGconn *pg, const struct ce_meta *ce, const char *key,
		       const ProtobufCMessage *m, char *errstr, size_t errlen, void *arg)
{
	const Cp__ComplaintReceived *c = (const void *)m;
	struct decision *d = calloc(1, sizeof(*d));
	int rc = d ? decide(pg, c, d) : -1;
	if (rc == 0)
		rc = store(pg, c, d);
	if (rc == 1)
		rc = store_people_clocks(pg, c, &d->policy) != 0 ||
			     textreview_store(pg, c, &d->r) != 0 || store_received(pg, c) != 0 ||
			     classification_announce(pg, c, &d->r, &d->policy,
						     d->origin.outlet_id) != 0 ||
			     offers_open(pg, c, &d->origin) != 0 || first_response(pg, c, d) != 0
			 ? -1
			 : 0;
	if (rc == 0)
		log_msg(LOG_INFO, "complaint_classified",
			LOG_KV({"complaint_no", c->complaint_no}, {"category", d->r.subcategory},
			       {"urgency", d->r.urgency}, {"sla_policy", d->policy.name}),
			"classified");
	free(d);
	return rc;
}

/* --- complaint.received.v1 as a set --- */

/* What a set reads per complaint before classifying it: policy_is_vip, parcel_origin and
 * outlet_origin (offers.c), and latest_scan (the same parcel_positions row), one row each. */
#define FACTS_SET_SQL                                                                              \
	"SELECT EXISTS (SELECT 1 FROM vip_customers v WHERE v.customer_ref = u.cref), "            \
	"pp.waybill_no IS NOT NULL, pp.code, pp.city, pp.facility_id, (extract(epoch FROM "        \
	"pp.occurred_at) * 1000)::bigint, pp.facility_type, pp.lat, pp.lon, a.lat, a.lon FROM "    \
	"unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS u (w, cref, outlet, ord) "  \
	"LEFT JOIN parcel_positions pp ON pp.waybill_no = u.w LEFT JOIN LATERAL (SELECT "          \
	"avg(s.lat) AS lat, avg(s.lon) AS lon FROM staff s WHERE s.outlet_id = CASE WHEN "         \
	"u.outlet <> '' THEN u.outlet WHEN pp.facility_type = 'outlet' THEN pp.facility_id END "   \
	"AND s.lat IS NOT NULL AND s.lon IS NOT NULL) a ON true ORDER BY u.ord"

/* store's row with what store_people_clocks, textreview_store and store_received add to it,
 * for every complaint of the set in one insert; the ordinals of those stored now (those
 * classified before are left as they are, as store leaves them). */
#define STORE_SET_COLUMNS 34
#define STORE_SET_SQL                                                                              \
	"WITH u AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], "         \
	"$5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], "   \
	"$12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], "           \
	"$18::text[], $19::text[], $20::text[], $21::text[], $22::text[], $23::text[], "           \
	"$24::text[], $25::text[], $26::text[], $27::text[], $28::text[], $29::text[], "           \
	"$30::text[], $31::text[], $32::text[], $33::text[], $34::text[]) WITH ORDINALITY AS u ("  \
	"id, no, waybill, cref, cat, sub, stype, reason, urg, sev, tier, prio, pol, lang, kws, "   \
	"tcat, tsub, scen, outlet, fr, ver, res, reg, pclocks, acc, whole, nxt, wclocks, cal, "    \
	"reader, prob, review, descr, recv, ord)), ins AS (INSERT INTO classifications ("          \
	"complaint_id, complaint_no, waybill_no, customer_ref, category, subcategory, "            \
	"stated_type, choice_reason, urgency, severity, tier, priority, sla_policy, language, "    \
	"keywords, text_category, text_subcategory, scenario, outlet_id, first_response_s, "       \
	"verification_s, resolution_s, regulatory_s, pausable_clocks, accept_s, whole_cycle_s, "   \
	"next_update_s, working_time_clocks, calendar, text_reader, text_probability, "            \
	"needs_review, description_redacted, received) SELECT id::uuid, no, waybill, cref, cat, "  \
	"sub, stype, reason, urg, sev, tier, prio::int, pol, lang, kws::text[], tcat, tsub, "      \
	"scen, NULLIF(outlet, ''), fr::int, ver::int, res::int, reg::int, pclocks::text[], "       \
	"acc::int, whole::int, nxt::int, wclocks::text[], cal, reader, NULLIF(prob, '')::real, "   \
	"review::boolean, descr, recv::bytea FROM u ORDER BY ord ON CONFLICT (complaint_id) DO "   \
	"NOTHING RETURNING complaint_id) SELECT u.ord FROM u JOIN ins ON ins.complaint_id = "      \
	"u.id::uuid ORDER BY u.ord"

/* One complaint of a set: its decision, what was read for it, its stored row's text. */
struct recv_item {
	const Cp__ComplaintReceived *c;
	const char *ce_id; /* the event's, for its log lines (the one-event path's context) */
	struct decision d;
	bool fresh;
	int facts_row, choose_row;
	char num[9][24];
	char *kws, *clocks, *working, *hex;
};

/* The received complaint packed, as bytea hex (store_received's text). NULL out of memory. */
static char *received_hex(const Cp__ComplaintReceived *c)
{
	size_t len = protobuf_c_message_get_packed_size(&c->base);
	uint8_t *buf = malloc(len ? len : 1);
	char *hex = malloc(2 * len + 3);
	if (buf && hex) {
		protobuf_c_message_pack(&c->base, buf);
		hex[0] = '\\';
		hex[1] = 'x';
		for (size_t i = 0; i < len; i++)
			snprintf(hex + 2 + 2 * i, 3, "%02x", buf[i]);
		hex[2 + 2 * len] = '\0';
	} else {
		free(hex);
		hex = NULL;
	}
	free(buf);
	return hex;
}

/* The facts of every complaint (one statement), then each classified and located as decide()
 * does (the nearest outlets of those that need one: one statement more). */
static int decide_set(PGconn *pg, struct recv_item *v, size_t n, PGresult **facts)
{
	const char **cells = malloc(3 * n * sizeof(*cells));
	if (!cells)
		return -1;
	for (size_t i = 0; i < n; i++) {
		cells[3 * i] = v[i].c->waybill_no;
		cells[3 * i + 1] = v[i].c->customer_ref;
		cells[3 * i + 2] = v[i].c->outlet_id ? v[i].c->outlet_id : "";
	}
	*facts = pg_query_columns(pg, "classification_facts_set", FACTS_SET_SQL, 3, n, cells);
	free(cells);
	struct route_origin **nearest = malloc((n ? n : 1) * sizeof(*nearest));
	size_t nn = 0;
	if (!*facts || !nearest) {
		free(nearest);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		const PGresult *f = *facts;
		int row = (int)i;
		struct classify_call call = {v[i].c, PQgetvalue(f, row, 0)[0] == 't', &v[i].d.r};
		keywords_with(classify_cached, &call);
		const struct offers_position pos = {
		    .known = PQgetvalue(f, row, 1)[0] == 't',
		    .facility_id = PQgetvalue(f, row, 4),
		    .facility_type = PQgetvalue(f, row, 6),
		    .lat = PQgetisnull(f, row, 7) ? NULL : PQgetvalue(f, row, 7),
		    .lon = PQgetisnull(f, row, 8) ? NULL : PQgetvalue(f, row, 8),
		    .outlet_lat = PQgetisnull(f, row, 9) ? NULL : PQgetvalue(f, row, 9),
		    .outlet_lon = PQgetisnull(f, row, 10) ? NULL : PQgetvalue(f, row, 10)};
		v[i].facts_row = row;
		if (offers_locate_from(v[i].c, &pos, &v[i].d.origin) != 0)
			nearest[nn++] = &v[i].d.origin;
	}
	int rc = offers_nearest_outlets(pg, nearest, nn);
	free(nearest);
	return rc;
}

/* The policy and the first response's template of every complaint (one statement). */
static PGresult *choose_set(PGconn *pg, struct recv_item *v, size_t n)
{
	const char **cells = malloc(7 * n * sizeof(*cells));
	if (!cells)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const struct classify_result *r = &v[i].d.r;
		const char *row[] = {r->category,
				     r->subcategory,
				     r->urgency,
				     r->tier,
				     v[i].c->channel ? v[i].c->channel : "",
				     r->scenario,
				     v[i].c->language};
		memcpy(cells + 7 * i, row, sizeof(row));
	}
	PGresult *res = policy_choose_set(pg, cells, n);
	free(cells);
	for (size_t i = 0; res && i < n; i++) {
		policy_from_row(res, (int)i, 0, &v[i].d.policy);
		v[i].choose_row = (int)i;
	}
	return res;
}

/* Every complaint's row in one insert; marks those stored now. */
static int store_set(PGconn *pg, struct recv_item *v, size_t n)
{
	static const char *const types[] = {"unspecified", "damage", "delay", "loss", "other"};
	const char **cells = malloc(STORE_SET_COLUMNS * n * sizeof(*cells));
	int rc = -1;
	if (!cells)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct recv_item *x = &v[i];
		const Cp__ComplaintReceived *c = x->c;
		const struct classify_result *r = &x->d.r;
		const struct sla_policy *p = &x->d.policy;
		x->kws = rows_array(r->keywords[0], sizeof(r->keywords[0]), r->nkeywords);
		x->clocks = rows_array(p->pausable[0], sizeof(p->pausable[0]), p->npausable);
		x->working = rows_array(p->working[0], sizeof(p->working[0]), p->nworking);
		x->hex = received_hex(c);
		if (!x->kws || !x->clocks || !x->working || !x->hex)
			goto out;
		snprintf(x->num[0], 24, "%d", r->priority);
		snprintf(x->num[1], 24, "%lld", p->first_response_s);
		snprintf(x->num[2], 24, "%lld", p->verification_s);
		snprintf(x->num[3], 24, "%lld", p->resolution_s);
		snprintf(x->num[4], 24, "%lld", p->regulatory_s);
		snprintf(x->num[5], 24, "%lld", p->accept_s);
		snprintf(x->num[6], 24, "%lld", p->whole_cycle_s);
		snprintf(x->num[7], 24, "%lld", p->next_update_s);
		/* textreview_store's reading: the model's probability only when the model read */
		x->num[8][0] = '\0';
		if (strcmp(r->text_reader, "model") == 0)
			snprintf(x->num[8], 24, "%.4f", r->text_probability);
		const char *row[STORE_SET_COLUMNS] = {
		    c->complaint_id,
		    c->complaint_no,
		    c->waybill_no,
		    c->customer_ref,
		    r->category,
		    r->subcategory,
		    types[c->type % 5],
		    r->reason,
		    r->urgency,
		    r->severity,
		    r->tier,
		    x->num[0],
		    p->name,
		    c->language,
		    x->kws,
		    r->text_category,
		    r->text_subcategory,
		    r->scenario,
		    x->d.origin.outlet_id,
		    x->num[1],
		    x->num[2],
		    x->num[3],
		    x->num[4],
		    x->clocks,
		    x->num[5],
		    x->num[6],
		    x->num[7],
		    x->working,
		    p->calendar,
		    r->text_reader[0] ? r->text_reader : "keywords",
		    x->num[8],
		    r->needs_review ? "true" : "false",
		    c->description_redacted ? c->description_redacted : "",
		    x->hex};
		memcpy(cells + STORE_SET_COLUMNS * i, row, sizeof(row));
	}
	PGresult *res = pg_query_columns(pg, "classification_store_set", STORE_SET_SQL,
					 STORE_SET_COLUMNS, n, cells);
	if (res) {
		for (int row = 0; row < PQntuples(res); row++)
			v[strtoul(PQgetvalue(res, row, 0), NULL, 10) - 1].fresh = true;
		rc = 0;
	}
	PQclear(res);
out:
	free(cells);
	return rc;
}

/* first_response on what the set read: the parcel's row (facts) and the template (choose). */
static int first_response_read(PGconn *pg, const struct recv_item *x, const PGresult *facts,
			       const PGresult *choose)
{
	Cp__FirstResponse ev = CP__FIRST_RESPONSE__INIT;
	const struct classify_result *r = &x->d.r;
	const Cp__ComplaintReceived *c = x->c;
	char now[TSTAMP_LEN], next[TSTAMP_LEN], text[2048], scan[256], when[64];
	long long next_s = x->d.policy.next_update_s > 0 ? x->d.policy.next_update_s
							 : classification_cfg.next_update_s;
	int64_t ms = tstamp_now_ms(), next_ms = ms + next_s * 1000;
	int f = x->facts_row, t = x->choose_row;
	bool known = PQgetvalue(facts, f, 1)[0] == 't';
	tstamp_format(ms, now);
	tstamp_format(next_ms, next);
	classify_scan_text(known, known ? atoi(PQgetvalue(facts, f, 2)) : 0,
			   known ? PQgetvalue(facts, f, 3) : "",
			   known ? PQgetvalue(facts, f, 4) : "",
			   known ? strtoll(PQgetvalue(facts, f, 5), NULL, 10) : 0, c->language,
			   scan, sizeof(scan));
	classify_human_time(next_ms, c->language, when, sizeof(when));
	const struct classify_vars vars = {c->complaint_no, c->waybill_no, scan, when};
	classify_render(!PQgetisnull(choose, t, 11)
			    ? PQgetvalue(choose, t, 11)
			    : "{complaint_no} / {waybill_no}: {latest_scan}; {next_update_by}",
			&vars, text, sizeof(text));
	ev.complaint_id = c->complaint_id;
	ev.complaint_no = c->complaint_no;
	ev.scenario = (char *)r->scenario;
	ev.language = c->language;
	ev.text = text;
	ev.next_update_by = next;
	ev.at = now;
	return outbox_add(pg, TOPIC_CLASSIFIED, c->complaint_id, "cp.complaint.first_response",
			  &ev.base, NULL);
}

/* on_received for a batch's received complaints with a constant number of statements: the
 * facts of all of them (one), each classified in C as on_received does, their policies and
 * templates (one), their rows (one insert), then the routing of those stored now
 * (offers_open_set) and the announcements, in each complaint's order: classified, offered
 * (or escalated), first response. A complaint received again in the same set is left out
 * after its first event: on the one-event path it finds its classification stored and does
 * nothing. Complaints classified before are left as on_received leaves them. */
static int on_received_set(PGconn *pg, const struct consumer_set_item *items, size_t n,
			   char *errstr, size_t errlen, void *arg)
{
	struct recv_item *v = calloc(n, sizeof(*v));
	const Cp__ComplaintReceived **rcs = calloc(n, sizeof(*rcs));
	const struct route_origin **origins = calloc(n, sizeof(*origins));
	const char **ce_ids = calloc(n, sizeof(*ce_ids));
	PGresult *facts = NULL, *choose = NULL;
	size_t m = 0, nf = 0;
	int rc = -1;
	if (!v || !rcs || !origins || !ce_ids || keywords_ensure(pg) != 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const Cp__ComplaintReceived *c = (const void *)items[i].m;
		bool again = false;
		for (size_t j = 0; j < m && !again; j++)
			again = strcmp(v[j].c->complaint_id, c->complaint_id) == 0;
		if (!again) {
			v[m].ce_id = items[i].ce->id[0] ? items[i].ce->id : NULL;
			v[m++].c = c;
		}
	}
	if (decide_set(pg, v, m, &facts) != 0 || !(choose = choose_set(pg, v, m)) ||
	    store_set(pg, v, m) != 0)
		goto out;
	for (size_t i = 0; i < m; i++) {
		if (!v[i].fresh)
			continue;
		if (classification_announce(pg, v[i].c, &v[i].d.r, &v[i].d.policy,
					    v[i].d.origin.outlet_id) != 0)
			goto out;
		rcs[nf] = v[i].c;
		ce_ids[nf] = v[i].ce_id;
		origins[nf++] = &v[i].d.origin;
	}
	if (offers_open_set(pg, rcs, origins, ce_ids, nf) != 0)
		goto out;
	for (size_t i = 0; i < m; i++) {
		if (!v[i].fresh)
			continue;
		if (first_response_read(pg, &v[i], facts, choose) != 0)
			goto out;
		log_context_set("ce_id", v[i].ce_id);
		log_msg(LOG_INFO, "complaint_classified",
			LOG_KV({"complaint_no", v[i].c->complaint_no},
			       {"category", v[i].d.r.subcategory}, {"urgency", v[i].d.r.urgency},
			       {"sla_policy", v[i].d.policy.name}),
			"classified");
		log_context_set("ce_id", NULL);
	}
	rc = 0;
out:
	for (size_t i = 0; v && i < m; i++) {
		free(v[i].kws);
		free(v[i].clocks);
		free(v[i].working);
		free(v[i].hex);
	}
	PQclear(facts);
	PQclear(choose);
	free(v);
	free(rcs);
	free(origins);
	free(ce_ids);
	return rc;
}

/* --- parcel.tracking.v1: the latest scan per waybill --- */

static int validate_scan(const ProtobufCMessage *m, char *errstr, size_t errlen)
{
	const Cp__TrackingEvent *ev = (const void *)m;
	int64_t ms;
	if (!ev->waybill_no[0] || tstamp_parse(ev->occurred_at, &ms) != 0) {
		snprintf(errstr, errlen, "waybill_no and an RFC 3339 occurred_at are required");
		return -1;
	}
	return 0;
}

static int on_scan(PGconn *pg, const struct ce_meta *ce, const char *key, const ProtobufCMessage *m,
		   char *errstr, size_t errlen, void *arg)
{
	const Cp__TrackingEvent *ev = (const void *)m;
	char code[8], lat[32], lon[32];
	snprintf(code, sizeof(code), "%d", (int)ev->code);
	snprintf(lat, sizeof(lat), "%.7f", ev->location ? ev->location->lat : 0.0);
	snprintf(lon, sizeof(lon), "%.7f", ev->location ? ev->location->lon : 0.0);
	const char *p[] = {ev->waybill_no,
			   code,
			   ev->facility_id,
			   ev->facility_type,
			   ev->city,
			   ev->location ? lat : NULL,
			   ev->location ? lon : NULL,
			   ev->occurred_at};
	/* scans arrive out of order: keep the latest by occurred_at */
	return pg_exec(
	    pg,
	    "INSERT INTO parcel_positions AS pp (waybill_no, code, facility_id, "
	    "facility_type, city, lat, lon, occurred_at) VALUES ($1, $2::int, $3, $4, $5, "
	    "$6::float8, $7::float8, $8::timestamptz) ON CONFLICT (waybill_no) DO UPDATE "
	    "SET code = EXCLUDED.code, facility_id = EXCLUDED.facility_id, facility_type "
	    "= EXCLUDED.facility_type, city = EXCLUDED.city, lat = EXCLUDED.lat, lon = "
	    "EXCLUDED.lon, occurred_at = EXCLUDED.occurred_at, updated_at = now() WHERE "
	    "pp.occurred_at <= EXCLUDED.occurred_at",
	    8, p);
}

/* The waybill's slot in a batch's open-addressing table of nslots (a power of two) indexes of
 * items: its own, or the empty one (-1) where it goes. */
static size_t scan_slot(const long *slots, size_t nslots, const struct consumer_set_item *items,
			const char *waybill_no)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (const char *s = waybill_no; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	for (size_t i = h & (nslots - 1);; i = (i + 1) & (nslots - 1)) {
		const Cp__TrackingEvent *ev = slots[i] < 0 ? NULL : (const void *)items[slots[i]].m;
		if (!ev || strcmp(ev->waybill_no, waybill_no) == 0)
			return i;
	}
}

/* A small non-negative integer as text, without the printf machinery (a scan code). */
static const char *scan_code_text(int code, char out[12])
{
	char *o = out + 11;
	unsigned v = code < 0 ? 0 : (unsigned)code;
	*o = '\0';
	do
		*--o = (char)('0' + v % 10);
	while ((v /= 10) > 0);
	return o;
}

/* The batch's scans as one statement: per waybill the newest scan (latest occurred_at, the
 * later of equal ones), kept against the stored one with the same WHERE as on_scan, so the
 * same row as applying them one by one. Only the scans that can be the newest of their
 * waybill are sent (perf in make bench: building and parsing the text arrays of every scan,
 * five per waybill there, was most of this service's CPU per scan): those whose time, read to
 * the millisecond (tstamp_parse truncates), equals the waybill's latest in the batch. A scan
 * with an earlier millisecond is older than that one whatever its fraction, so the statement's
 * DISTINCT ON would never pick it; equal ones go to the statement, which decides on the full
 * time stamp and then the batch order, as before. */
static int on_scans(PGconn *pg, const struct consumer_set_item *items, size_t n, char *errstr,
		    size_t errlen, void *arg)
{
	enum { NCOLS = 8 };
	size_t nslots = 16;
	while (nslots < 2 * n)
		nslots *= 2;
	long *slots = malloc(nslots * sizeof(*slots));
	int64_t *ms = malloc(n * sizeof(*ms)), *latest = malloc(nslots * sizeof(*latest));
	const char **cells = malloc(NCOLS * n * sizeof(*cells));
	char(*num)[3][32] = malloc(n * sizeof(*num));
	size_t rows = 0;
	int rc = -1;
	if (!slots || !ms || !latest || !cells || !num)
		goto failed;
	for (size_t i = 0; i < nslots; i++)
		slots[i] = -1;
	for (size_t i = 0; i < n; i++) {
		const Cp__TrackingEvent *ev = (const void *)items[i].m;
		if (tstamp_parse(ev->occurred_at, &ms[i]) != 0) /* validate_scan checked it */
			ms[i] = INT64_MIN;
		size_t s = scan_slot(slots, nslots, items, ev->waybill_no);
		if (slots[s] < 0 || ms[i] > latest[s]) {
			slots[s] = (long)i;
			latest[s] = ms[i];
		}
	}
	for (size_t i = 0; i < n; i++) {
		const Cp__TrackingEvent *ev = (const void *)items[i].m;
		if (ms[i] != latest[scan_slot(slots, nslots, items, ev->waybill_no)])
			continue;
		if (ev->location) {
			snprintf(num[rows][1], 32, "%.7f", ev->location->lat);
			snprintf(num[rows][2], 32, "%.7f", ev->location->lon);
		}
		const char *row[NCOLS] = {ev->waybill_no,
					  scan_code_text((int)ev->code, num[rows][0]),
					  ev->facility_id,
					  ev->facility_type,
					  ev->city,
					  ev->location ? num[rows][1] : "",
					  ev->location ? num[rows][2] : "",
					  ev->occurred_at};
		memcpy(cells + rows * NCOLS, row, sizeof(row));
		rows++;
	}
	PGresult *r = pg_query_columns(
	    pg, "classification_positions_set",
	    "INSERT INTO parcel_positions AS pp (waybill_no, code, facility_id, facility_type, "
	    "city, lat, lon, occurred_at) SELECT DISTINCT ON (w) w, code::int, fac, ftype, city, "
	    "NULLIF(lat, '')::float8, NULLIF(lon, '')::float8, t::timestamptz FROM unnest("
	    "$1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], "
	    "$8::text[]) WITH ORDINALITY AS u (w, code, fac, ftype, city, lat, lon, t, o) "
	    "ORDER BY w, t::timestamptz DESC, o DESC ON CONFLICT (waybill_no) DO UPDATE "
	    "SET code = EXCLUDED.code, facility_id = EXCLUDED.facility_id, facility_type "
	    "= EXCLUDED.facility_type, city = EXCLUDED.city, lat = EXCLUDED.lat, lon = "
	    "EXCLUDED.lon, occurred_at = EXCLUDED.occurred_at, updated_at = now() WHERE "
	    "pp.occurred_at <= EXCLUDED.occurred_at",
	    NCOLS, rows, cells);
	rc = r ? 0 : -1;
	PQclear(r);
failed:
	free(slots);
	free(ms);
	free(latest);
	free(cells);
	free(num);
	return rc;
}

const struct consumer_handler classification_handlers[] = {
    {TOPIC_RECEIVED, "cp.complaint.received", &cp__complaint_received__descriptor,
     validate_received, on_received},
    {TOPIC_EVIDENCE, "cp.complaint.evidence_collected", &cp__evidence_bundle__descriptor,
     conflict_validate_evidence, conflict_on_evidence},
    {TOPIC_EVIDENCE, "cp.complaint.evidence_updated", &cp__evidence_bundle__descriptor,
     conflict_validate_evidence, conflict_on_evidence},
    {TOPIC_SLA, "cp.complaint.sla_breached", &cp__sla_event__descriptor, escalation_validate_breach,
     escalation_on_breach},
    {TOPIC_EVIDENCE_REQUEST, "cp.complaint.evidence_request_escalated",
     &cp__evidence_request__descriptor, escalation_validate_evidence,
     escalation_on_evidence_overdue},
    {TOPIC_TRACKING, "cp.parcel.scanned", &cp__tracking_event__descriptor, validate_scan, on_scan},
};
const size_t classification_nhandlers =
    sizeof(classification_handlers) / sizeof(classification_handlers[0]);

/* Received complaints as sets (on_received_set). The latest-scan projection keeps the newest
 * scan: applying one twice changes nothing, so no inbox row is written for scans. */
const struct consumer_set_handler classification_set_handlers[] = {
    {TOPIC_RECEIVED, "cp.complaint.received", on_received_set, NULL, false},
    {TOPIC_TRACKING, "cp.parcel.scanned", on_scans, NULL, true},
};
const size_t classification_nset_handlers =
    sizeof(classification_set_handlers) / sizeof(classification_set_handlers[0]);
