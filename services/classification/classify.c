/* Pure classification rules: no I/O. The keyword table is data (classification.keywords);
 * the tables here are the domain's fixed vocabulary and the documented priority matrix. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "classification.h"
#include "negation.h"
#include "textnorm.h"
#include "textsignals.h"

/* Every subcategory, its category and its base severity (0 low .. 3 high). */
static const struct subcat {
	const char *sub;
	const char *cat;
	int severity;
	const char *refines; /* a more specific reading of this stated type */
} subcats[] = {
    {"personal_data_leak", "information", 3, NULL},
    {"locker_theft", "transport", 2, "loss"},
    {"signed_not_received", "transport", 2, "loss"},
    {"wrong_delivery", "transport", 2, "loss"},
    /* since 1 March 2024 the 快递市场管理办法 forbids signing by someone the addressee did not
     * authorise (代签) and leaving a parcel in a locker or station without consent (不告而投) */
    {"proxy_signed", "transport", 2, "loss"},
    {"unconsented_locker_station", "transport", 1, NULL},
    {"loss", "transport", 2, NULL},
    {"damage", "transport", 2, NULL},
    {"delay", "transport", 1, NULL},
    {"overcharge", "charges", 1, NULL},
    {"courier_attitude", "service", 1, NULL},
    {"agent_attitude", "service", 1, NULL},
    {"delivery_promise", "service", 1, NULL},
    {"unclear_price", "charges", 0, NULL},
    {"wrong_tracking_info", "information", 0, NULL},
    {"other", "service", 0, NULL},
};
#define NSUBCATS (sizeof(subcats) / sizeof(subcats[0]))

/* The priority matrix: rows urgency, columns severity; 1 is the highest priority. */
static const char *const urgencies[] = {"normal", "urgent", "very_urgent"};
static const char *const severities[] = {"low", "medium", "high", "critical"};
static const int priority_matrix[3][4] = {
    /*               low medium high critical */
    /* normal */ {5, 4, 3, 2},
    /* urgent */ {3, 3, 2, 1},
    /* very_urgent */ {2, 2, 1, 1},
};

#define VALUE_HIGH_FEN	    200000LL  /* 2 000 CNY: raises severity and urgency */
#define VALUE_VERY_HIGH_FEN 1000000LL /* 10 000 CNY: a lost parcel this valuable is very urgent */

static const struct subcat *subcat_find(const char *sub)
{
	for (size_t i = 0; i < NSUBCATS; i++)
		if (strcmp(subcats[i].sub, sub) == 0)
			return &subcats[i];
	return NULL;
}

const char *classify_category_of(const char *subcategory)
{
	const struct subcat *s = subcat_find(subcategory);
	return s ? s->cat : NULL;
}

static int index_of(const char *v, const char *const *set, int n)
{
	for (int i = 0; i < n; i++)
		if (strcmp(v, set[i]) == 0)
			return i;
	return -1;
}

int classify_priority(const char *urgency, const char *severity, bool vip)
{
	int u = index_of(urgency, urgencies, 3), s = index_of(severity, severities, 4);
	if (u < 0 || s < 0)
		return 5;
	int p = priority_matrix[u][s];
	return vip && p > 1 ? p - 1 : p;
}

static int kw_kind_parse(const char *kind, enum kw_kind *out)
{
	static const char *const kinds[] = {"category", "angry", "goods"};
	int i = index_of(kind, kinds, 3);
	if (i < 0)
		return -1;
	*out = (enum kw_kind)i;
	return 0;
}

static bool goods_known(const char *g)
{
	return strcmp(g, "medicine") == 0 || strcmp(g, "fresh_food") == 0 ||
	       strcmp(g, "documents") == 0;
}

int classify_kw_make(struct kw_entry *e, const char *keyword, const char *kind,
		     const char *category, const char *subcategory, const char *goods, int weight,
		     char *errstr, size_t errlen)
{
	memset(e, 0, sizeof(*e));
	size_t n = keyword ? strlen(keyword) : 0;
	if (n == 0 || n >= sizeof(e->keyword)) {
		snprintf(errstr, errlen, "keyword must be 1 to %zu bytes", sizeof(e->keyword) - 1);
		return -1;
	}
	/* folded as the texts are, so a full-width or upper-case keyword still matches */
	textnorm_fold(keyword, e->keyword, sizeof(e->keyword));
	if (!kind || kw_kind_parse(kind, &e->kind) != 0) {
		snprintf(errstr, errlen, "kind must be category, angry or goods");
		return -1;
	}
	if (weight < 1 || weight > 10) {
		snprintf(errstr, errlen, "weight must be 1 to 10");
		return -1;
	}
	e->weight = weight;
	if (e->kind == KW_CATEGORY) {
		const struct subcat *s = subcategory ? subcat_find(subcategory) : NULL;
		if (!s || !category || strcmp(s->cat, category) != 0) {
			snprintf(errstr, errlen, "category/subcategory is not a known pair");
			return -1;
		}
		snprintf(e->category, sizeof(e->category), "%s", category);
		snprintf(e->subcategory, sizeof(e->subcategory), "%s", subcategory);
	} else if (e->kind == KW_GOODS) {
		if (!goods || !goods_known(goods)) {
			snprintf(errstr, errlen, "goods must be medicine, fresh_food or documents");
			return -1;
		}
		snprintf(e->goods, sizeof(e->goods), "%s", goods);
	}
	return 0;
}

static bool is_word_char(char c)
{
	return isalnum((unsigned char)c) != 0;
}

/* Where kw occurs in text at a word boundary for ASCII keywords ("late" not in
 * "chocolate"), anywhere for the others, from offset from; -1 when it does not. */
static long text_find(const char *text, const char *kw, size_t from)
{
	bool ascii_word = is_word_char(kw[0]);
	size_t n = strlen(kw);
	for (const char *p = strstr(text + from, kw); p; p = strstr(p + 1, kw)) {
		bool left = p == text || !is_word_char(p[-1]);
		bool right = !is_word_char(p[n]);
		if (!ascii_word || (left && right))
			return p - text;
	}
	return -1;
}

struct scan {
	int weight[NSUBCATS];
	int conceded[NSUBCATS]; /* votes from a clause a later contrast overrides */
	bool goods_medicine, goods_urgent;
	int angry;
	const struct subcat *override; /* the heaviest override keyword found */
	int override_weight;
	struct textsig sig; /* amounts, deadlines, repeat and shouting in the text */
};

static void note_keyword(struct classify_result *out, const char *kw)
{
	for (int i = 0; i < out->nkeywords; i++)
		if (strcmp(out->keywords[i], kw) == 0)
			return;
	if (out->nkeywords < CLASSIFY_MAX_KEYWORDS)
		snprintf(out->keywords[out->nkeywords++], sizeof(out->keywords[0]), "%s", kw);
}

/* The marks of the first occurrence of kw that is not denied: 0 or NEGATION_CONCEDED, or -1
 * when every occurrence is negated (没有破损 does not vote for damage) or there is none. */
static int occurrence(const char *text, const unsigned char *marks, const char *kw)
{
	int best = -1;
	for (long at = text_find(text, kw, 0); at >= 0; at = text_find(text, kw, (size_t)at + 1)) {
		if (marks[at] & NEGATION_NEGATED)
			continue;
		if (!(marks[at] & NEGATION_CONCEDED))
			return 0;
		best = NEGATION_CONCEDED;
	}
	return best;
}

static void vote(const struct kw_entry *e, int mark, struct scan *s)
{
	if (e->kind == KW_ANGRY) {
		s->angry += e->weight;
	} else if (e->kind == KW_GOODS) {
		s->goods_urgent = true;
		s->goods_medicine |= strcmp(e->goods, "medicine") == 0;
	} else {
		const struct subcat *sc = subcat_find(e->subcategory);
		if (sc && e->override && mark == 0 && e->weight > s->override_weight) {
			s->override = sc;
			s->override_weight = e->weight;
		}
		if (sc && mark == NEGATION_CONCEDED)
			s->conceded[sc - subcats] += e->weight;
		else if (sc)
			s->weight[sc - subcats] += e->weight;
	}
}

/* Conceded votes count only when no clause outside a contrast voted: 「虽然晚了，但是摔坏了」
 * reads as damage, 「虽然晚了两天」 alone still as delay. */
static void settle_conceded(struct scan *s)
{
	for (size_t i = 0; i < NSUBCATS; i++)
		if (s->weight[i] > 0)
			return;
	memcpy(s->weight, s->conceded, sizeof(s->weight));
}

/* text is already normalised (textnorm_text) when norm is true, else it is folded here. */
static void scan_text(const char *text, bool norm, const struct kw_table *kw, struct scan *s,
		      struct classify_result *out)
{
	char low[TEXTNORM_MAX];
	unsigned char marks[TEXTNORM_MAX];
	if (norm)
		snprintf(low, sizeof(low), "%s", text ? text : "");
	else
		textnorm_fold(text ? text : "", low, sizeof(low));
	negation_mark(low, strlen(low), marks);
	for (size_t i = 0; kw && i < kw->n; i++) {
		const struct kw_entry *e = &kw->v[i];
		int mark = occurrence(low, marks, e->keyword);
		if (mark < 0)
			continue;
		note_keyword(out, e->keyword);
		vote(e, mark, s);
	}
	settle_conceded(s);
	textsig_scan(low, &s->sig);
	/* the words that raised urgency are shown with the keywords that explain the choice */
	const char *cues[] = {s->sig.amount_cue, s->sig.deadline_cue, s->sig.repeat_cue};
	for (size_t i = 0; i < sizeof(cues) / sizeof(cues[0]); i++)
		if (cues[i][0])
			note_keyword(out, cues[i]);
	s->angry += s->sig.shouting;
	s->goods_urgent |= s->sig.deadline;
}

void classify_keyword_tokens(const char *norm, const struct kw_table *kw, char *out, size_t cap)
{
	char low[TEXTNORM_MAX];
	unsigned char marks[TEXTNORM_MAX];
	size_t o = 0;
	snprintf(low, sizeof(low), "%s", norm ? norm : "");
	negation_mark(low, strlen(low), marks);
	out[0] = '\0';
	for (size_t i = 0; kw && i < kw->n; i++) {
		const struct kw_entry *e = &kw->v[i];
		int mark = e->kind == KW_CATEGORY ? occurrence(low, marks, e->keyword) : -1;
		if (mark < 0)
			continue;
		int n = snprintf(out + o, cap - o, " %skw_%s", mark ? "~" : "", e->subcategory);
		if (n < 0 || o + (size_t)n >= cap)
			break;
		o += (size_t)n;
	}
	out[o] = '\0';
}

/* The subcategory the text points to most: highest weight, then higher base severity, then
 * table order. NULL when no category keyword matched. */
static const struct subcat *text_top(const struct scan *s)
{
	const struct subcat *best = NULL;
	int best_w = 0;
	for (size_t i = 0; i < NSUBCATS; i++) {
		if (s->weight[i] > best_w ||
		    (best && s->weight[i] == best_w && subcats[i].severity > best->severity)) {
			best = &subcats[i];
			best_w = s->weight[i];
		}
	}
	return best_w > 0 ? best : NULL;
}

static const struct subcat *stated_subcat(int type)
{
	static const char *const names[] = {NULL, "damage", "delay", "loss", NULL};
	return type >= 1 && type <= 3 ? subcat_find(names[type]) : NULL;
}

/* Records both readings and the reason for the choice; returns the chosen subcategory. */
static const struct subcat *choose(const struct subcat *stated, const struct subcat *text,
				   const struct scan *s, char *reason, size_t cap)
{
	if (!text && !stated) {
		snprintf(reason, cap, "stated type other and no keyword in the text");
		return subcat_find("other");
	}
	if (!text) {
		snprintf(reason, cap, "stated type %s; no keyword in the text", stated->sub);
		return stated;
	}
	if (!stated) {
		snprintf(reason, cap, "stated type other; the text points to %s", text->sub);
		return text;
	}
	if (text == stated) {
		snprintf(reason, cap, "stated type %s, confirmed by the text", stated->sub);
		return stated;
	}
	if (text->refines && strcmp(text->refines, stated->sub) == 0) {
		snprintf(reason, cap, "stated type %s; the text is more specific: %s", stated->sub,
			 text->sub);
		return text;
	}
	if (text->severity > stated->severity) {
		snprintf(reason, cap,
			 "stated type %s; the text points to %s, which is more serious",
			 stated->sub, text->sub);
		return text;
	}
	if (s->weight[stated - subcats] > 0) {
		snprintf(reason, cap,
			 "stated type %s, confirmed by the text (which also mentions %s)",
			 stated->sub, text->sub);
		return stated;
	}
	snprintf(reason, cap,
		 "stated type %s kept: the customer's answer wins; the text points "
		 "to %s",
		 stated->sub, text->sub);
	return stated;
}

static bool has(char **list, size_t n, const char *v)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], v) == 0)
			return true;
	return false;
}

static bool loss_like(const char *sub)
{
	const struct subcat *s = subcat_find(sub);
	return strcmp(sub, "loss") == 0 || (s && s->refines && strcmp(s->refines, "loss") == 0);
}

/* The larger of the declared value and an amount written in the text (「九千元的电脑」). */
static int64_t text_value(const Cp__ComplaintReceived *c, const struct scan *s)
{
	int64_t declared = c->impact ? c->impact->declared_value_fen : 0;
	return declared > s->sig.amount_fen ? declared : (int64_t)s->sig.amount_fen;
}

/* A repeat complaint by the field or by the customer's words (「第三次投诉」). */
static bool repeated(const Cp__ComplaintReceived *c, const struct scan *s)
{
	return c->repeat || c->repeat_count > 0 || s->sig.repeat > 0;
}

static const char *urgency_of(const Cp__ComplaintReceived *c, const struct scan *s, const char *sub)
{
	const Cp__Impact *im = c->impact;
	bool medicine = s->goods_medicine || (im && has(im->goods, im->n_goods, "medicine"));
	bool urgent_goods = medicine || s->goods_urgent ||
			    (im && (has(im->goods, im->n_goods, "fresh_food") ||
				    has(im->goods, im->n_goods, "documents") || im->perishable));
	int64_t value = text_value(c, s);
	bool repeat = repeated(c, s);
	bool time_critical = strcmp(sub, "delay") == 0 || loss_like(sub);
	if ((medicine && time_critical) || (urgent_goods && repeat) ||
	    (value >= VALUE_VERY_HIGH_FEN && loss_like(sub)))
		return "very_urgent";
	if (urgent_goods || value >= VALUE_HIGH_FEN || repeat || s->angry > 0)
		return "urgent";
	return "normal";
}

static const char *severity_of(const Cp__ComplaintReceived *c, const struct scan *s,
			       const struct subcat *sub)
{
	int score = sub->severity;
	score += repeated(c, s);
	score += s->angry > 0;
	score += text_value(c, s) >= VALUE_HIGH_FEN;
	if (score <= 0)
		return "low";
	return score <= 2 ? "medium" : score == 3 ? "high" : "critical";
}

static const char *scenario_of(const Cp__ComplaintReceived *c, const struct scan *s)
{
	if (s->angry > 0 || repeated(c, s))
		return "emotional";
	if (has(c->demand, c->n_demand, "compensation") ||
	    has(c->demand, c->n_demand, "freight_refund"))
		return "compensation";
	return "inquiry";
}

/* The text's reading and what read it: an operator's override keyword, else the trained
 * model, else the keywords. NULL when the text names no specific problem. */
static const struct subcat *text_reading(const struct scan *s, const struct classify_reading *rd,
					 struct classify_result *out)
{
	const struct subcat *m =
	    rd && rd->subcategory && rd->subcategory[0] ? subcat_find(rd->subcategory) : NULL;
	if (s->override) {
		snprintf(out->text_reader, sizeof(out->text_reader), "override");
		return s->override;
	}
	if (!m) {
		snprintf(out->text_reader, sizeof(out->text_reader), "keywords");
		return text_top(s);
	}
	snprintf(out->text_reader, sizeof(out->text_reader), "model");
	out->text_probability = rd->probability;
	/* the model is unsure: the machine prepares, a person confirms the category */
	out->needs_review = rd->probability < rd->min_confidence;
	return strcmp(m->sub, "other") == 0 ? NULL : m;
}

void classify_complaint_read(const Cp__ComplaintReceived *c, const struct kw_table *kw, bool vip,
			     const struct classify_reading *rd, struct classify_result *out)
{
	struct scan s;
	memset(out, 0, sizeof(*out));
	memset(&s, 0, sizeof(s));
	if (rd && rd->text)
		scan_text(rd->text, true, kw, &s, out);
	else
		scan_text(c->description_redacted, false, kw, &s, out);
	const struct subcat *text = text_reading(&s, rd, out);
	const struct subcat *sub =
	    choose(stated_subcat((int)c->type), text, &s, out->reason, sizeof(out->reason));
	const struct subcat *person = rd && rd->decided ? subcat_find(rd->decided) : NULL;
	if (person) {
		sub = person;
		snprintf(out->reason, sizeof(out->reason), "set by a person: %s", person->sub);
		out->needs_review = false;
	}
	if (!text && strcmp(out->text_reader, "model") == 0)
		text = subcat_find("other"); /* recorded as the model's reading, not chosen by it */
	if (text) {
		snprintf(out->text_category, sizeof(out->text_category), "%s", text->cat);
		snprintf(out->text_subcategory, sizeof(out->text_subcategory), "%s", text->sub);
	}
	snprintf(out->category, sizeof(out->category), "%s", sub->cat);
	snprintf(out->subcategory, sizeof(out->subcategory), "%s", sub->sub);
	out->angry = s.angry > 0;
	out->urgent_goods = s.goods_urgent;
	snprintf(out->urgency, sizeof(out->urgency), "%s", urgency_of(c, &s, sub->sub));
	snprintf(out->severity, sizeof(out->severity), "%s", severity_of(c, &s, sub));
	snprintf(out->tier, sizeof(out->tier), "%s", vip ? "vip" : "standard");
	out->priority = classify_priority(out->urgency, out->severity, vip);
	snprintf(out->scenario, sizeof(out->scenario), "%s", scenario_of(c, &s));
}

void classify_complaint(const Cp__ComplaintReceived *c, const struct kw_table *kw, bool vip,
			struct classify_result *out)
{
	classify_complaint_read(c, kw, vip, NULL, out);
}

void classify_render(const char *tmpl, const struct classify_vars *v, char *out, size_t cap)
{
	const struct {
		const char *name;
		const char *value;
	} vars[] = {{"{complaint_no}", v->complaint_no},
		    {"{waybill_no}", v->waybill_no},
		    {"{latest_scan}", v->latest_scan},
		    {"{next_update_by}", v->next_update_by}};
	size_t o = 0;
	while (*tmpl && o + 1 < cap) {
		size_t i = 0, nvars = sizeof(vars) / sizeof(vars[0]);
		for (; i < nvars; i++)
			if (strncmp(tmpl, vars[i].name, strlen(vars[i].name)) == 0)
				break;
		if (i == nvars) {
			out[o++] = *tmpl++;
			continue;
		}
		o += (size_t)snprintf(out + o, cap - o, "%s", vars[i].value ? vars[i].value : "");
		o = o < cap ? o : cap - 1;
		tmpl += strlen(vars[i].name);
	}
	out[o] = '\0';
}

void classify_human_time(int64_t ms, const char *language, char *out, size_t cap)
{
	bool zh = strcmp(language, "en") != 0;
	time_t t = (time_t)(ms / 1000) + (zh ? 8 * 3600 : 0);
	struct tm tm;
	gmtime_r(&t, &tm);
	char when[32];
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
	snprintf(out, cap, "%s%s", when, zh ? "（北京时间）" : " UTC");
}

static const char *scan_word(int code, bool zh)
{
	static const char *const words[][2] = {
	    {"scanned", "扫描"},
	    {"picked up", "已揽收"},
	    {"arrived", "到达"},
	    {"departed", "离开"},
	    {"out for delivery", "派送中"},
	    {"delivered", "已签收"},
	    {"stored in a locker", "已入柜"},
	    {"stored at a station", "已入驿站"},
	    {"held with an exception", "异常"},
	    {"returned", "已退回"},
	};
	if (code < 0 || code >= (int)(sizeof(words) / sizeof(words[0])))
		code = 0;
	return words[code][zh];
}

void classify_scan_text(bool known, int code, const char *city, const char *facility_id,
			int64_t at_ms, const char *language, char *out, size_t cap)
{
	bool zh = strcmp(language, "en") != 0;
	if (!known) {
		snprintf(out, cap, "%s", zh ? "暂无扫描记录" : "no scan recorded yet");
		return;
	}
	char when[48];
	classify_human_time(at_ms, language, when, sizeof(when));
	const char *place = city && city[0]		    ? city
			    : facility_id && facility_id[0] ? facility_id
							    : "";
	if (zh)
		snprintf(out, cap, "%s %s%s%s", when, place, place[0] ? " " : "",
			 scan_word(code, true));
	else
		snprintf(out, cap, "%s%s%s, %s", scan_word(code, false), place[0] ? " at " : "",
			 place, when);
}
