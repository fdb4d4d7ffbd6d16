/* What may settle or pay a plan (see decide.h): data in, decisions out. */
#include "decide.h"

#include <stdio.h>
#include <string.h>

/* True when word is one of the comma-separated entries of csv. */
static bool listed(const char *csv, const char *word, size_t len)
{
	for (const char *p = csv; len && p && *p;) {
		size_t n = strcspn(p, ",");
		if (n == len && strncmp(p, word, len) == 0)
			return true;
		p = p[n] ? p + n + 1 : NULL;
	}
	return false;
}

static bool category_listed(const char *csv, const char *category, const char *subcategory)
{
	char both[96];
	int n = snprintf(both, sizeof(both), "%s/%s", category, subcategory);
	if (n < 0 || (size_t)n >= sizeof(both) || !category[0])
		return false;
	return listed(csv, category, strlen(category)) || listed(csv, both, (size_t)n);
}

static bool kinds_allowed(const char *csv, const struct res_plan *plan)
{
	for (int i = 0; i < plan->n; i++)
		if (!listed(csv, plan->remedies[i].kind, strlen(plan->remedies[i].kind)))
			return false;
	return true;
}

const char *res_rule_mismatch(const struct res_rule *rule, const struct res_plan *plan,
			      const struct res_settle_facts *f)
{
	if (!rule->enabled)
		return "disabled";
	/* a preliminary judgement is never enough: a person confirmed it, or the scans prove it */
	if (!f->confirmed && !f->conclusive)
		return "preliminary";
	/* a rule settles money quickly; a plan without any (an apology, a promise, locating the
	 * parcel) needs a person's answer to the customer */
	if (plan->n == 0 || plan->total_fen <= 0)
		return "nothing_to_settle";
	if (plan->total_fen > rule->max_fen)
		return "over_limit";
	if (!category_listed(rule->categories, f->category, f->subcategory))
		return "category";
	if (!kinds_allowed(rule->kinds, plan))
		return "remedy_kind";
	if (f->paid_before_fen > 0)
		return "paid_before";
	return NULL;
}
