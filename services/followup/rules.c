/* Pure rules of the follow-up service (see followup.h): templates, quiet hours, survey
 * outcome, retry backoff, redaction, URLs. No I/O. */
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "followup.h"
#include "redact.h"

static const char *var_value(const struct fu_vars *v, const char *name, size_t len)
{
	static const struct {
		const char *name;
		size_t off;
	} names[] = {
	    {"complaint_no", offsetof(struct fu_vars, complaint_no)},
	    {"owner", offsetof(struct fu_vars, owner)},
	    {"plan", offsetof(struct fu_vars, plan)},
	    {"survey_url", offsetof(struct fu_vars, survey_url)},
	    {"appeal", offsetof(struct fu_vars, appeal)},
	    {"text", offsetof(struct fu_vars, text)},
	    {"next_update_by", offsetof(struct fu_vars, next_update_by)},
	    {"merged_into", offsetof(struct fu_vars, merged_into)},
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strlen(names[i].name) == len && memcmp(names[i].name, name, len) == 0) {
			const char *s = *(const char *const *)((const char *)v + names[i].off);
			return s ? s : "";
		}
	}
	return NULL;
}

static size_t put(char *out, size_t len, size_t cap, const char *s, size_t n)
{
	if (len + 1 >= cap)
		return len;
	if (n > cap - 1 - len)
		n = cap - 1 - len;
	memcpy(out + len, s, n);
	return len + n;
}

size_t fu_render(const char *tmpl, const struct fu_vars *v, char *out, size_t cap)
{
	size_t len = 0;
	if (cap == 0)
		return 0;
	for (const char *p = tmpl; *p;) {
		const char *close = *p == '{' ? strchr(p, '}') : NULL;
		const char *val = close ? var_value(v, p + 1, (size_t)(close - p - 1)) : NULL;
		if (val) {
			len = put(out, len, cap, val, strlen(val));
			p = close + 1;
		} else {
			len = put(out, len, cap, p, 1);
			p++;
		}
	}
	out[len] = '\0';
	return len;
}

int64_t fu_quiet_release(int64_t now_ms, int start_min, int end_min, int offset_min)
{
	if (start_min == end_min)
		return now_ms;
	const int64_t day = 24 * 60, ms_min = 60000;
	int64_t local_min = ((now_ms / ms_min + offset_min) % day + day) % day;
	bool quiet = start_min < end_min ? local_min >= start_min && local_min < end_min
					 : local_min >= start_min || local_min < end_min;
	if (!quiet)
		return now_ms;
	int64_t wait = ((end_min - local_min) % day + day) % day;
	/* the start of the current minute plus the minutes to wait */
	return (now_ms / ms_min) * ms_min + wait * ms_min;
}

bool fu_dissatisfied(int score, bool solved)
{
	return score <= 2 || !solved;
}

int64_t fu_backoff_ms(int attempts, int64_t base_ms, int64_t max_ms)
{
	int64_t d = base_ms > 0 ? base_ms : 1;
	for (int i = 1; i < attempts && d < max_ms; i++)
		d *= 2;
	return d < max_ms ? d : max_ms;
}

void fu_local_time(int64_t ms, int offset_min, char *out, size_t cap)
{
	time_t t = (time_t)(ms / 1000 + (int64_t)offset_min * 60);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, cap, "%Y-%m-%d %H:%M", &tm);
}

void fu_redact_digits(const char *text, char *out, size_t cap)
{
	redact_text(text, NULL, "***", out, cap);
}

int fu_parse_url(const char *url, char *host, size_t hostcap, char *port, size_t portcap,
		 char *path, size_t pathcap)
{
	if (strncmp(url, "http://", 7) != 0)
		return -1;
	const char *h = url + 7, *slash = strchr(h, '/');
	size_t hlen = slash ? (size_t)(slash - h) : strlen(h);
	const char *colon = memchr(h, ':', hlen);
	size_t namelen = colon ? (size_t)(colon - h) : hlen;
	if (namelen == 0 || namelen >= hostcap)
		return -1;
	snprintf(host, hostcap, "%.*s", (int)namelen, h);
	if (colon) {
		size_t plen = hlen - namelen - 1;
		if (plen == 0 || plen >= portcap || strspn(colon + 1, "0123456789") < plen)
			return -1;
		snprintf(port, portcap, "%.*s", (int)plen, colon + 1);
	} else {
		snprintf(port, portcap, "80");
	}
	snprintf(path, pathcap, "%s", slash ? slash : "/");
	return 0;
}

static const char *kind_name(const char *kind, bool zh)
{
	static const char *const names[][3] = {
	    {"locate_deliver", "locate and deliver the parcel", "查找并派送包裹"},
	    {"reship", "reship", "重新寄送"},
	    {"compensation", "compensation", "赔偿"},
	    {"freight_refund", "freight refund", "退还运费"},
	    {"freight_waiver", "freight waived", "免收运费"},
	    {"coupon", "coupon", "优惠券"},
	    {"apology", "apology", "致歉"},
	    {"service_promise", "service improvement", "服务改进承诺"},
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(kind, names[i][0]) == 0)
			return names[i][zh ? 2 : 1];
	return kind;
}

void fu_plan_text(const char *remedies_json, const char *language, char *out, size_t cap)
{
	bool zh = strcmp(language, "en") != 0;
	json_t *arr = json_loads(remedies_json, 0, NULL), *v;
	size_t i, len = 0;
	out[0] = '\0';
	json_array_foreach (arr, i, v) {
		const char *kind = json_string_value(json_object_get(v, "kind"));
		json_int_t fen = json_integer_value(json_object_get(v, "amount_fen"));
		char item[128];
		int n = snprintf(item, sizeof(item), "%s%s", i ? (zh ? "、" : ", ") : "",
				 kind_name(kind ? kind : "", zh));
		if (fen > 0)
			snprintf(item + n, sizeof(item) - (size_t)n, " %lld.%02lld %s",
				 (long long)(fen / 100), (long long)(fen % 100), zh ? "元" : "CNY");
		len = put(out, len, cap, item, strlen(item));
		out[len] = '\0';
	}
	json_decref(arr);
}

/* ---- casework ----------------------------------------------------------------------------- */

static bool fu_one_of(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; s && i < n; i++)
		if (strcmp(s, list[i]) == 0)
			return true;
	return false;
}

#define FU_ONE_OF(s, list) fu_one_of(s, list, sizeof(list) / sizeof(list[0]))

bool fu_call_outcome_valid(const char *outcome)
{
	static const char *const outcomes[] = {"reached", "no_answer", "voicemail", "wrong_number"};
	return FU_ONE_OF(outcome, outcomes);
}

bool fu_call_is_contact(const char *outcome)
{
	return outcome && strcmp(outcome, "reached") == 0;
}

bool fu_close_reason_valid(const char *reason)
{
	static const char *const reasons[] = {"resolved", "no_fault_found", "withdrawn",
					      "duplicate"};
	return FU_ONE_OF(reason, reasons);
}

const char *fu_close_step(const char *reason)
{
	if (strcmp(reason, "no_fault_found") == 0)
		return "closed_no_fault_found";
	if (strcmp(reason, "withdrawn") == 0)
		return "closed_withdrawn";
	if (strcmp(reason, "duplicate") == 0)
		return "closed_duplicate";
	return "closed";
}

bool fu_reopenable(const char *close_reason)
{
	static const char *const terminal[] = {"withdrawn", "duplicate"};
	return !FU_ONE_OF(close_reason, terminal);
}

static bool fu_is_person(const char *actor)
{
	return actor && actor[0] && strcmp(actor, "system") != 0 &&
	       strncmp(actor, "rule:", 5) != 0 && strncmp(actor, "auto", 4) != 0;
}

bool fu_person_decided(const char *approved_by, const char *proposed_by)
{
	return fu_is_person(approved_by) || fu_is_person(proposed_by);
}

bool fu_needs_person_answer(const char *category, const char *subcategory)
{
	static const char *const categories[] = {"service", "charges"};
	static const char *const subcategories[] = {"courier_attitude", "agent_attitude",
						    "overcharge", "unclear_price"};
	return FU_ONE_OF(category, categories) || FU_ONE_OF(subcategory, subcategories);
}

bool fu_contact_template_allowed(const char *step)
{
	/* delay_notice: its {text} is the stuck parcel's, which a hand-sent message lacks */
	static const char *const internal[] = {"appeal", "customer_replied", "contact",
					       "plan_executed", "delay_notice"};
	if (!step || !step[0] || FU_ONE_OF(step, internal))
		return false;
	/* staff_* templates are the staff's own notifications, never the customer's */
	return strncmp(step, "closed", 6) != 0 && strncmp(step, "reopened", 8) != 0 &&
	       strncmp(step, "staff_", 6) != 0;
}

const char *fu_target_staff(const char *kind, const char *id)
{
	return id && auth_kind_is_person(kind) ? id : "";
}

bool fu_delay_reason_code_valid(const char *code)
{
	/* the same rule as the table's CHECK: a carrier's code is an identifier, never text */
	size_t n = code ? strlen(code) : 0;
	if (n < 1 || n > 40)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((code[i] >= 'a' && code[i] <= 'z') || (code[i] >= '0' && code[i] <= '9') ||
		      code[i] == '_'))
			return false;
	return true;
}

void fu_delay_text(const char *why, const char *place, int hours, const char *waybill,
		   const char *language, char *out, size_t cap)
{
	bool en = language && strcmp(language, "en") == 0;
	/* no phrase for the carrier's code (or no code): the customer reads that the cause is
	 * being checked, never the carrier's internal code */
	if (!why || !why[0])
		why = en ? "the cause is being checked" : "原因正在核查";
	if (en)
		snprintf(out, cap,
			 "Your parcel %s has had no tracking update at %s for over %d hours. "
			 "Reason: %s.",
			 waybill, place, hours, why);
	else
		snprintf(out, cap,
			 "您的包裹（运单号 %s）在%s已超过 %d 小时没有新的物流信息，原因：%s。",
			 waybill, place, hours, why);
}
