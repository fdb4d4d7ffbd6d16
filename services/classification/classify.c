/* Pure classification rules: no I/O. */
#include <stdio.h>
#include <string.h>

#include "classification.h"

static bool has_goods(const Cp__ComplaintReceived *c, const char *kind)
{
	for (size_t i = 0; c->impact && i < c->impact->n_goods; i++)
		if (strcmp(c->impact->goods[i], kind) == 0)
			return true;
	return false;
}

static bool has_demand(const Cp__ComplaintReceived *c, const char *kind)
{
	for (size_t i = 0; i < c->n_demand; i++)
		if (strcmp(c->demand[i], kind) == 0)
			return true;
	return false;
}

void classify_complaint(const Cp__ComplaintReceived *c, struct classify_result *out)
{
	memset(out, 0, sizeof(*out));
	static const char *const sub[] = {"other", "damage", "delay", "loss", "other"};
	int t = (int)c->type;
	snprintf(out->subcategory, sizeof(out->subcategory), "%s", sub[t >= 0 && t <= 4 ? t : 0]);
	snprintf(out->category, sizeof(out->category), "%s",
		 t >= 1 && t <= 3 ? "transport" : "service");
	bool urgent_goods = has_goods(c, "medicine") || has_goods(c, "fresh_food") ||
			    (c->impact && c->impact->perishable);
	snprintf(out->urgency, sizeof(out->urgency), "%s", urgent_goods ? "urgent" : "normal");
	snprintf(out->severity, sizeof(out->severity), "%s", c->repeat ? "high" : "medium");
	snprintf(out->tier, sizeof(out->tier), "standard");
	out->priority = urgent_goods ? 2 : 3;
	if (c->repeat || c->repeat_count > 0)
		out->priority = out->priority > 1 ? out->priority - 1 : 1;
	snprintf(out->reason, sizeof(out->reason), "stated type");
	snprintf(out->scenario, sizeof(out->scenario), "%s",
		 has_demand(c, "compensation") ? "compensation" : "inquiry");
}

void classify_first_response(const char *scenario, const char *language,
			     const char *complaint_no, const char *waybill_no,
			     const char *next_update_by, char *out, size_t cap)
{
	if (strcmp(language, "en") == 0)
		snprintf(out, cap,
			 "We have received your complaint %s about parcel %s and are checking it "
			 "now. You will hear from us by %s.",
			 complaint_no, waybill_no, next_update_by);
	else
		snprintf(out, cap, "您的投诉 %s（运单 %s）已受理，我们正在核实，将于 %s 前回复您。",
			 complaint_no, waybill_no, next_update_by);
	(void)scenario;
}
