/* The case lifecycle, as the customer sees it (the README draws it):
 *
 *   received -> offered -> accepted -> in_contact -> verified -> plan_proposed
 *     -> pending_approval -> executing -> awaiting_confirmation -> closed
 *   reopened (from closed, or from any step after accepted) goes back to the owner and moves
 *   forward again from there; merged and withdrawn are terminal.
 *
 * Every service announces its own step; the events travel on different topics and may arrive
 * in any order, so the status moves only forward: a late "offered" after "in_contact" changes
 * nothing. Pure: no I/O. */
#include <stdio.h>
#include <string.h>

#include "intake.h"

struct lc_status {
	const char *name;
	int rank;
	const char *next_zh;
	const char *next_en;
	const char *next_clock; /* the clock that times the next step; NULL when none does */
};

/* reopened shares accepted's rank: the owner has the case again and every later step is
 * ahead of it. The terminal statuses share the highest rank. */
static const struct lc_status lc_statuses[] = {
    {"received", 0, "我们已收到您的投诉，正在分派专人处理",
     "we have your complaint and are finding the person who will handle it", "first_response"},
    {"offered", 1, "您的投诉已推送给附近的工作人员，正在等待专人接单",
     "your complaint has been offered to staff nearby; one of them will take it", "first_response"},
    {"accepted", 2, "专人已接手您的投诉，将尽快联系您",
     "a named member of staff owns your case and will contact you", "first_response"},
    {"reopened", 2, "您的投诉已重新处理，负责人将再次联系您",
     "your case was reopened; its owner will contact you again", "resolution"},
    {"in_contact", 3, "负责人已联系您，正在核实包裹情况",
     "your case owner has been in touch and is checking what happened to the parcel",
     "verification"},
    {"verified", 4, "情况已核实，正在制定解决方案",
     "the facts are verified; a remedy is being prepared", "resolution"},
    {"plan_proposed", 5, "解决方案已拟定，正在确认",
     "a remedy has been drafted and is being decided", "resolution"},
    {"pending_approval", 6, "解决方案正在等待主管审批", "a supervisor is approving the remedy",
     "resolution"},
    {"executing", 7, "解决方案已批准，正在执行", "the remedy is approved and being carried out",
     "resolution"},
    {"awaiting_confirmation", 8, "方案已执行，请告诉我们问题是否解决",
     "the remedy was carried out; please tell us whether the problem is solved", NULL},
    {"closed", 9, "投诉已结案；如不满意，您可以向邮政管理局申诉",
     "the case is closed; if you are not satisfied you may appeal to the postal administration",
     NULL},
    {"merged", 9, "此投诉已并入您的另一件投诉一并处理",
     "this complaint was joined to your other case and is handled there", NULL},
    {"withdrawn", 9, "投诉已撤回", "the complaint was withdrawn", NULL},
};

#define LC_TERMINAL_RANK 9

static const struct lc_status *lc_find(const char *name)
{
	for (size_t i = 0; name && i < sizeof(lc_statuses) / sizeof(lc_statuses[0]); i++)
		if (strcmp(lc_statuses[i].name, name) == 0)
			return &lc_statuses[i];
	return NULL;
}

bool intake_status_valid(const char *s)
{
	return lc_find(s) != NULL;
}

bool intake_lifecycle_terminal(const char *status)
{
	const struct lc_status *s = lc_find(status);
	return s && s->rank == LC_TERMINAL_RANK;
}

const char *intake_lifecycle_next(const char *cur, const char *next)
{
	const struct lc_status *c = lc_find(cur), *n = lc_find(next);
	if (!n)
		return cur;
	if (!c)
		return n->name; /* an unknown current status is repaired by any known one */
	if (strcmp(n->name, "reopened") == 0)
		/* only a closed case or one someone already works on can be reopened; merged and
		 * withdrawn cases stay where they are */
		return strcmp(c->name, "closed") == 0 || (c->rank > 2 && c->rank < LC_TERMINAL_RANK)
			   ? n->name
			   : c->name;
	if (c->rank == LC_TERMINAL_RANK)
		return c->name;
	return n->rank > c->rank ? n->name : c->name;
}

const char *intake_lifecycle_next_clock(const char *status)
{
	const struct lc_status *s = lc_find(status);
	return s ? s->next_clock : NULL;
}

const char *intake_lifecycle_next_step(const char *status, const char *language)
{
	const struct lc_status *s = lc_find(status);
	bool zh = !language || strncmp(language, "zh", 2) == 0;
	if (!s)
		return zh ? "我们正在处理您的投诉" : "we are working on your case";
	return zh ? s->next_zh : s->next_en;
}

const char *intake_lifecycle_of_resolution(const char *plan_status)
{
	static const char *const map[][2] = {
	    {"proposed", "plan_proposed"},
	    {"pending_approval", "pending_approval"},
	    {"approved", "executing"},
	    {"executing", "executing"},
	    {"executed", "awaiting_confirmation"},
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i][0], plan_status) == 0)
			return map[i][1];
	return NULL; /* rejected, failed, superseded: the case stays where it is */
}

bool intake_plan_visible_to_customer(const char *plan_status)
{
	/* nothing is promised before a person (or an operator's rule) approved it */
	return strcmp(plan_status, "approved") == 0 || strcmp(plan_status, "executing") == 0 ||
	       strcmp(plan_status, "executed") == 0;
}

const char *intake_lifecycle_of_closure(const char *close_reason)
{
	if (close_reason && strcmp(close_reason, "duplicate") == 0)
		return "merged";
	if (close_reason && strcmp(close_reason, "withdrawn") == 0)
		return "withdrawn";
	return "closed";
}
