/* Who and what may decide a plan: the people around a case (its owner, the staff member the
 * complaint is about, the courier the evidence names as responsible) and the operators'
 * auto-settlement rules. Pure: data in, decisions out, no I/O; unit-tested by
 * tests/unit/test_resolution_decide.c.
 *
 * A plan never executes by itself: a person with enough authority accepts or approves it, or
 * an enabled auto-settlement rule (operator data, none enabled by default) matches every one of
 * its conditions. */
#ifndef CP_RESOLUTION_DECIDE_H
#define CP_RESOLUTION_DECIDE_H

#include <stdbool.h>
#include <stdint.h>

#include "policy.h"

/* The people around one case; strings are borrowed, never NULL ("" when unknown). */
/* Who may accept, approve, amend or reject a case's plan is common/auth.h's rule
 * (auth_case_verdict: the owner or a supervisor, never a person the case names). */

/* One row of resolution.auto_settlement_rules. */
struct res_rule {
	char name[48];
	bool enabled;
	int64_t max_fen;      /* the plan's total may not exceed it */
	char categories[512]; /* comma-separated "category/subcategory", or "category" for all */
	char kinds[256];      /* comma-separated remedy kinds every remedy must be one of */
};

/* What a rule judges besides the plan. */
struct res_settle_facts {
	const char *category;
	const char *subcategory;
	bool confirmed;		 /* a person confirmed the responsibility (not preliminary) */
	bool conclusive;	 /* the tracking alone proves it (EvidenceBundle.conclusive) */
	int64_t paid_before_fen; /* payouts requested or confirmed on the waybill by other plans */
};

/* NULL when the rule settles the plan; otherwise the first condition that failed, as a static
 * string for the log ("disabled", "preliminary", "nothing_to_settle" (no money in the plan: a
 * person answers), "over_limit", "category", "remedy_kind", "paid_before"). */
const char *res_rule_mismatch(const struct res_rule *rule, const struct res_plan *plan,
			      const struct res_settle_facts *f);

#endif
