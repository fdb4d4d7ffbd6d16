/* The remedy and compensation policy (see policy.h): data in, decisions out. */
#include "policy.h"

#include <stdio.h>
#include <string.h>

static const char *const remedy_kinds[] = {"locate_deliver", "reship",	       "compensation",
					   "freight_refund", "freight_waiver", "coupon",
					   "apology",	     "service_promise"};

static const struct {
	const char *word;
	unsigned bit;
} demand_words[] = {
    {"reship", RES_DEMAND_RESHIP},	     {"compensation", RES_DEMAND_COMPENSATION},
    {"apology", RES_DEMAND_APOLOGY},	     {"freight_refund", RES_DEMAND_FREIGHT_REFUND},
    {"information", RES_DEMAND_INFORMATION},
};

unsigned res_demand_bit(const char *word)
{
	for (size_t i = 0; i < sizeof(demand_words) / sizeof(demand_words[0]); i++)
		if (strcmp(word, demand_words[i].word) == 0)
			return demand_words[i].bit;
	return 0;
}

bool res_kind_valid(const char *kind)
{
	for (size_t i = 0; i < sizeof(remedy_kinds) / sizeof(remedy_kinds[0]); i++)
		if (strcmp(kind, remedy_kinds[i]) == 0)
			return true;
	return false;
}

bool res_kind_payout(const char *kind)
{
	return strcmp(kind, "compensation") == 0 || strcmp(kind, "freight_refund") == 0 ||
	       strcmp(kind, "freight_waiver") == 0;
}

bool res_chargeback_party(const char *party)
{
	return strcmp(party, "franchise_partner") == 0 || strcmp(party, "outlet") == 0 ||
	       strcmp(party, "locker_operator") == 0 || strcmp(party, "partner") == 0;
}

int64_t res_pct(int64_t value_fen, int64_t pct)
{
	if (value_fen <= 0 || pct <= 0)
		return 0;
	return (value_fen * pct + 50) / 100;
}

static bool is_loss(const char *sub)
{
	return strcmp(sub, "loss") == 0 || strcmp(sub, "signed_not_received") == 0 ||
	       strcmp(sub, "locker_theft") == 0 || strcmp(sub, "wrong_delivery") == 0;
}

static bool not_liable(const char *party)
{
	return strcmp(party, "customer") == 0 || strcmp(party, "force_majeure") == 0;
}

static void add(struct res_plan *out, const char *kind, int64_t fen, const char *rule)
{
	if (out->n >= RES_MAX_REMEDIES)
		return;
	struct res_remedy *r = &out->remedies[out->n++];
	snprintf(r->kind, sizeof(r->kind), "%s", kind);
	snprintf(r->rule, sizeof(r->rule), "%s", rule);
	r->amount_fen = fen;
	out->total_fen += fen;
}

static bool has(const struct res_plan *out, const char *kind)
{
	for (int i = 0; i < out->n; i++)
		if (strcmp(out->remedies[i].kind, kind) == 0)
			return true;
	return false;
}

static int loss_pct(const struct res_policy *p, const struct res_facts *f)
{
	int64_t pct = f->loss_pct > 0 ? f->loss_pct : 100;
	if (f->loss_pct <= 0 && strcmp(f->subcategory, "damage") == 0)
		pct = p->damage_loss_pct;
	return (int)(pct < 0 ? 0 : pct > 100 ? 100 : pct);
}

static int64_t uninsured(const struct res_policy *p, const struct res_facts *f, int pct, char *rule)
{
	int64_t cap = p->freight_multiple > 0 && f->freight_fen > 0
			  ? p->freight_multiple * f->freight_fen
			  : -1;
	int64_t amount = res_pct(f->declared_value_fen, pct);
	snprintf(rule, 40, "uninsured_actual_loss");
	if (f->declared_value_fen <= 0 && cap >= 0) {
		amount = res_pct(cap, pct);
		snprintf(rule, 40, "uninsured_undeclared_freight_cap");
	} else if (cap >= 0 && amount > cap) {
		amount = cap;
		snprintf(rule, 40, "uninsured_freight_cap");
	}
	if (p->declared_ceiling_fen > 0 && amount > p->declared_ceiling_fen) {
		amount = p->declared_ceiling_fen;
		snprintf(rule, 40, "uninsured_ceiling");
	}
	return amount;
}

int64_t res_compensation(const struct res_policy *p, const struct res_facts *f, char *rule)
{
	int pct = loss_pct(p, f);
	if (f->insured && f->insured_value_fen > 0) {
		snprintf(rule, 40, pct == 100 ? "insured_total" : "insured_partial");
		return res_pct(f->insured_value_fen, pct);
	}
	return uninsured(p, f, pct, rule);
}

static void propose_goods(const struct res_policy *p, const struct res_facts *f,
			  struct res_plan *out)
{
	char rule[40];
	if (is_loss(f->subcategory) && f->locatable) {
		add(out, "locate_deliver", 0, "locate_deliver");
		snprintf(out->rule, sizeof(out->rule), "locate_deliver");
		return;
	}
	int64_t fen = res_compensation(p, f, rule);
	add(out, "compensation", fen, rule);
	snprintf(out->rule, sizeof(out->rule), "%s", rule);
	if (f->demand & RES_DEMAND_RESHIP)
		add(out, "reship", 0, "demand_reship");
}

static void propose_delay(const struct res_policy *p, const struct res_facts *f,
			  struct res_plan *out)
{
	if (strcmp(p->delay_remedy, "coupon") == 0 || f->freight_fen <= 0) {
		add(out, "coupon", p->delay_coupon_fen, "delay_coupon");
		snprintf(out->rule, sizeof(out->rule), "delay_coupon");
		return;
	}
	/* the freight only: an insurance fee is never part of freight_fen */
	add(out, "freight_waiver", f->freight_fen, "delay_freight_waiver");
	snprintf(out->rule, sizeof(out->rule), "delay_freight_waiver");
}

static bool is_last_mile(const char *sub)
{
	return strcmp(sub, "unconsented_locker_station") == 0 || strcmp(sub, "proxy_signed") == 0;
}

/* 不告而投 / 代签: the goods reached the customer's building, the wrong was the hand-over.
 * When the customer says the goods are gone (a compensation or reship demand) it is paid as a
 * loss; otherwise the carrier promises door delivery (or a signature by the addressee) from
 * now on, with the policy's coupon and the apology. */
static void propose_last_mile(const struct res_policy *p, const struct res_facts *f,
			      struct res_plan *out)
{
	if (f->demand & (RES_DEMAND_COMPENSATION | RES_DEMAND_RESHIP)) {
		propose_goods(p, f, out);
		return;
	}
	const char *rule = strcmp(f->subcategory, "proxy_signed") == 0
			       ? "proxy_signed"
			       : "unconsented_locker_station";
	add(out, "service_promise", 0, rule);
	if (p->last_mile_coupon_fen > 0)
		add(out, "coupon", p->last_mile_coupon_fen, rule);
	snprintf(out->rule, sizeof(out->rule), "%s", rule);
}

static void propose_other(const struct res_policy *p, const struct res_facts *f,
			  struct res_plan *out)
{
	if (strcmp(f->category, "charges") == 0 && f->freight_fen > 0) {
		add(out, "freight_refund", f->freight_fen, "overcharge_refund");
		snprintf(out->rule, sizeof(out->rule), "overcharge_refund");
	} else {
		snprintf(out->rule, sizeof(out->rule), "service_promise");
	}
	add(out, "service_promise", 0, "service_promise");
}

static void propose_liable(const struct res_policy *p, const struct res_facts *f,
			   struct res_plan *out)
{
	if (is_loss(f->subcategory) || strcmp(f->subcategory, "damage") == 0)
		propose_goods(p, f, out);
	else if (is_last_mile(f->subcategory))
		propose_last_mile(p, f, out);
	else if (strcmp(f->subcategory, "delay") == 0)
		propose_delay(p, f, out);
	else
		propose_other(p, f, out);
	if ((f->demand & RES_DEMAND_FREIGHT_REFUND) && f->freight_fen > 0 &&
	    !has(out, "freight_refund") && !has(out, "freight_waiver"))
		add(out, "freight_refund", f->freight_fen, "demand_freight_refund");
	if (strcmp(f->tier, "vip") == 0 && p->vip_coupon_fen > 0)
		add(out, "coupon", p->vip_coupon_fen, "vip_goodwill");
	add(out, "apology", 0, "liable");
}

void res_propose(const struct res_policy *p, const struct res_facts *f, struct res_plan *out)
{
	memset(out, 0, sizeof(*out));
	if (not_liable(f->party)) {
		add(out, "apology", 0, f->party);
		snprintf(out->rule, sizeof(out->rule), "not_liable_%s", f->party);
		return;
	}
	propose_liable(p, f, out);
	out->chargeback = res_chargeback_party(f->party) && out->total_fen > 0;
}

/* ---- the compensation ledger ---- */

int64_t res_payout_total(const struct res_plan *plan)
{
	int64_t sum = 0;
	for (int i = 0; i < plan->n; i++)
		if (res_kind_payout(plan->remedies[i].kind))
			sum += plan->remedies[i].amount_fen;
	return sum;
}

/* Cuts remedy i to at most room; returns what it keeps. */
static int64_t cut(struct res_remedy *r, int64_t room)
{
	if (r->amount_fen <= room)
		return r->amount_fen;
	r->amount_fen = room;
	snprintf(r->rule, sizeof(r->rule), room > 0 ? "already_paid_difference" : "already_paid");
	return room;
}

int64_t res_ledger_apply(struct res_plan *plan, int64_t already_paid_fen)
{
	int64_t cap = res_payout_total(plan);
	int64_t room = cap - (already_paid_fen > 0 ? already_paid_fen : 0);
	if (already_paid_fen <= 0 || cap == 0)
		return cap;
	room = room > 0 ? room : 0;
	int kept = 0;
	plan->total_fen = 0;
	for (int i = 0; i < plan->n; i++) {
		struct res_remedy r = plan->remedies[i];
		if (res_kind_payout(r.kind))
			room -= cut(&r, room);
		if (res_kind_payout(r.kind) && r.amount_fen == 0)
			continue;
		plan->remedies[kept++] = r;
		plan->total_fen += r.amount_fen;
	}
	plan->n = kept;
	if (res_payout_total(plan) == 0)
		snprintf(plan->rule, sizeof(plan->rule), "already_paid");
	plan->chargeback = plan->chargeback && plan->total_fen > 0;
	return cap;
}

int64_t res_ledger_payable(int64_t plan_payout, int64_t paid_self, int64_t cap, int64_t paid_others)
{
	int64_t need = plan_payout - paid_self;
	int64_t room = cap - paid_others - paid_self;
	int64_t pay = need < room ? need : room;
	return pay > 0 ? pay : 0;
}
