/* The remedy and compensation policy: pure functions from policy data and case facts to a
 * plan (remedies with amounts and the rule that produced each). No I/O: the policy comes from
 * the resolution.compensation_policies table, the facts from the service's projections.
 *
 * Money is integer fen. Percentages are applied with half-up rounding to the fen:
 * amount = (value * pct + 50) / 100, so 333 fen at 50 % is 167 fen. Caps are applied after
 * rounding. */
#ifndef CP_RESOLUTION_POLICY_H
#define CP_RESOLUTION_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#define RES_MAX_REMEDIES 8

/* One carrier's compensation policy (a row of compensation_policies). */
struct res_policy {
	char name[32];
	int64_t freight_multiple;     /* uninsured cap: this many times the freight (0: none) */
	int64_t declared_ceiling_fen; /* uninsured ceiling whatever the declared value (0: none) */
	int64_t damage_loss_pct;      /* share of the value lost when the extent is unknown */
	char delay_remedy[16];	      /* freight_waiver or coupon */
	int64_t delay_coupon_fen;
	int64_t vip_coupon_fen; /* goodwill coupon for VIP customers when liable */
	/* a parcel handed over the way the 快递市场管理办法 forbids since 1 March 2024 (left in a
	 * locker or station without consent, signed by someone not authorised): the coupon that
	 * goes with the apology and the door-delivery promise (0: none) */
	int64_t last_mile_coupon_fen;
};

/* What is known of the case: classification, impact, demand and responsibility. */
struct res_facts {
	char category[16];    /* service, transport, charges, information */
	char subcategory[32]; /* damage, delay, loss, signed_not_received, ... */
	char tier[16];	      /* standard, vip */
	bool insured;
	int64_t insured_value_fen;
	int64_t declared_value_fen;
	int64_t freight_fen;
	int loss_pct;	 /* 1..100 when known (100 total), 0 = use the policy's */
	char party[32];	 /* responsible party from the evidence */
	bool locatable;	 /* the parcel is still in the network: locate and deliver */
	unsigned demand; /* enum res_demand bits */
};

enum res_demand {
	RES_DEMAND_RESHIP = 1,
	RES_DEMAND_COMPENSATION = 2,
	RES_DEMAND_APOLOGY = 4,
	RES_DEMAND_FREIGHT_REFUND = 8,
	RES_DEMAND_INFORMATION = 16,
};

struct res_remedy {
	char kind[24]; /* locate_deliver, reship, compensation, freight_refund, freight_waiver,
			* coupon, apology, service_promise */
	int64_t amount_fen;
	char rule[40];
};

struct res_plan {
	struct res_remedy remedies[RES_MAX_REMEDIES];
	int n;
	int64_t total_fen; /* sum of the amounts */
	char rule[48];	   /* the rule that decided the main remedy */
	bool chargeback;   /* a franchise outlet or partner pays */
};

/* Maps a demand word to its bit (0 for unknown words). */
unsigned res_demand_bit(const char *word);

/* Percentage with half-up rounding to the fen. */
int64_t res_pct(int64_t value_fen, int64_t pct);

/* The compensation for goods lost or damaged; rule receives the rule name (cap 40). */
int64_t res_compensation(const struct res_policy *p, const struct res_facts *f, char *rule);

/* Decides the remedies. Always succeeds; out is overwritten. */
void res_propose(const struct res_policy *p, const struct res_facts *f, struct res_plan *out);

/* ---- the compensation ledger of a waybill ----
 * Across every complaint about one parcel the money paid (payouts requested or confirmed,
 * not failed or superseded) never exceeds the cap for that loss: what the policy pays for it,
 * or more when a person with the authority amended a plan to a larger total. */

/* The payout part of a plan: compensation, freight refund and freight waiver. */
int64_t res_payout_total(const struct res_plan *plan);

/* A repeat complaint on a waybill that has had already_paid_fen paid: the plan's payout
 * remedies are cut, in order, to what is left of the cap (the plan's own payout); a remedy
 * cut to 0 is dropped (rule "already_paid"), one cut partly keeps the difference (rule
 * "already_paid_difference"); when nothing is left the plan's rule becomes "already_paid".
 * total_fen and chargeback follow. Returns the cap (the payout before the cut). */
int64_t res_ledger_apply(struct res_plan *plan, int64_t already_paid_fen);

/* What one execution of a plan may still request: the plan's payout not yet confirmed for
 * it (paid_self), within what the waybill's cap leaves after every other plan's payouts
 * (paid_others) and this plan's own. Never negative. */
int64_t res_ledger_payable(int64_t plan_payout, int64_t paid_self, int64_t cap,
			   int64_t paid_others);

/* True for the parties whose share is charged back (franchise outlet, partner, locker). */
bool res_chargeback_party(const char *party);

/* True when the kind is a known remedy kind. */
bool res_kind_valid(const char *kind);

/* True when the remedy kind is paid out by finance (compensation, freight refund/waiver). */
bool res_kind_payout(const char *kind);

#endif
