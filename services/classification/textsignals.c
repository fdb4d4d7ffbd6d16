/* Urgency cues in the text (textsignals.h). Pure. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "textnorm.h"
#include "textsignals.h"

static const struct zh_digit {
	const char *ch;
	int value; /* 0..9 digits; 10, 100, 1000, 10000 units */
} zh_digits[] = {
    {"零", 0},	   {"一", 1},	 {"二", 2},   {"两", 2},  {"三", 3},  {"四", 4},   {"五", 5},
    {"六", 6},	   {"七", 7},	 {"八", 8},   {"九", 9},  {"十", 10}, {"百", 100}, {"千", 1000},
    {"万", 10000}, {"仟", 1000}, {"佰", 100}, {"拾", 10}, {"壹", 1},  {"贰", 2},   {"叁", 3},
};

/* Money words after a number, and before it. */
static const char *const units_after[] = {"元",	  "块",	 "rmb",	    "yuan", "cny", "人民币",
					  "港币", "hkd", "dollars", "usd",  "刀"};
static const char *const units_before[] = {"¥",	    "$",    "rmb",  "cny",	"hk$",
					   "hkd",   "usd",  "价值", "货值",	"值",
					   "worth", "价格", "价钱", "valued at"};

/* Goods needed by a date: a delay or loss then costs more than the parcel. */
static const char *const deadline_words[] = {
    "开庭",	"庭审",		 "面试",	 "考试",
    "签证",	"面签",		 "截止",	 "手术",
    "婚礼",	"救命",		 "急用",	 "明天要用",
    "今天要用", "明天就要",	 "今天就要",	 "马上要用",
    "赶飞机",	"deadline",	 "court",	 "hearing",
    "visa",	"interview",	 "exam",	 "surgery",
    "wedding",	"need it today", "needed today", "need it tomorrow"};

/* Saying it is not the first complaint. */
static const char *const repeat_words[] = {
    "又来投诉",	      "再次投诉",	   "多次投诉",		 "反复投诉",
    "一再投诉",	      "已经投诉过",	   "投诉过好几次",	 "投诉好几次",
    "三番五次",	      "complained before", "already complained", "complaining again",
    "complain again", "second time",	   "third time",	 "fourth time",
    "several times",  "many times",	   "times already"};
static const char *const repeat_after_nth[] = {"投诉", "反映",	 "打电话", "来电",
					       "联系", "找你们", "了"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
/* No parcel is worth more; customers' texts may hold any run of digits, and a larger value
 * would overflow the arithmetic below. */
#define AMOUNT_MAX 1000000000000LL

static long long clamp(long long v)
{
	return v > AMOUNT_MAX ? AMOUNT_MAX : v;
}

static int zh_digit_at(const char *s, size_t *len)
{
	for (size_t i = 0; i < COUNT(zh_digits); i++) {
		size_t n = strlen(zh_digits[i].ch);
		if (strncmp(s, zh_digits[i].ch, n) == 0) {
			*len = n;
			return zh_digits[i].value;
		}
	}
	*len = 0;
	return -1;
}

/* Arabic digits with thousands commas and a decimal point, then an optional 万/千/k. */
static long long arabic_number(const char *s, size_t *len)
{
	char buf[32];
	size_t n = 0, i = 0;
	while ((isdigit((unsigned char)s[i]) ||
		((s[i] == ',' || s[i] == '.') && i > 0 && isdigit((unsigned char)s[i + 1]))) &&
	       n + 1 < sizeof(buf)) {
		if (s[i] != ',')
			buf[n++] = s[i];
		i++;
	}
	buf[n] = '\0';
	double v = strtod(buf, NULL);
	size_t k;
	int unit = zh_digit_at(s + i, &k);
	if (unit >= 1000) {
		v *= unit;
		i += k;
	} else if (s[i] == 'k' && !isalpha((unsigned char)s[i + 1])) {
		v *= 1000;
		i++;
	} else if (s[i] == 'w' && !isalpha((unsigned char)s[i + 1])) {
		v *= 10000;
		i++;
	}
	*len = i;
	return v > (double)AMOUNT_MAX ? AMOUNT_MAX : (long long)v;
}

long long textsig_number(const char *s, size_t *len)
{
	if (isdigit((unsigned char)*s))
		return arabic_number(s, len);
	long long total = 0, section = 0, num = 0, last_unit = 1;
	size_t i = 0, k;
	int v;
	while ((v = zh_digit_at(s + i, &k)) >= 0) {
		i += k;
		if (v < 10) {
			num = clamp(num * 10 + v);
		} else if (v < 10000) {
			section = clamp(section + (num ? num : 1) * v);
			num = 0;
			last_unit = v;
		} else {
			total = clamp(total + (section + num ? section + num : 1) * v);
			section = num = 0;
			last_unit = v;
		}
	}
	/* 一万二 is 12 000 and 三千五 3 500: a trailing digit counts in the next smaller unit */
	if (num && last_unit >= 10)
		num *= last_unit / 10;
	if (strncmp(s + i, "多", 3) == 0 && i > 0)
		i += 3;
	*len = i;
	return clamp(total + section + num);
}

static size_t starts_any(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strncmp(s, list[i], strlen(list[i])) == 0)
			return strlen(list[i]);
	return 0;
}

/* A money word right before `at` (within a few bytes, spaces allowed). */
static bool unit_before(const char *text, const char *at)
{
	for (size_t i = 0; i < COUNT(units_before); i++) {
		size_t n = strlen(units_before[i]), back = (size_t)(at - text);
		const char *from = back > n + 2 ? at - n - 2 : text;
		for (const char *p = from; p + n <= at; p++)
			if (strncmp(p, units_before[i], n) == 0)
				return true;
	}
	return false;
}

static void cue(char *dst, const char *src, size_t n)
{
	if (!dst[0])
		snprintf(dst, TEXTSIG_CUE_MAX, "%.*s", (int)(n < TEXTSIG_CUE_MAX ? n : 0), src);
}

/* An amount of money at p (a number with a money word before or after it). */
static size_t money_at(const char *text, const char *p, struct textsig *out)
{
	size_t len;
	long long v = textsig_number(p, &len);
	if (len == 0)
		return 0;
	const char *after = p + len;
	while (*after == ' ')
		after++;
	size_t unit = starts_any(after, units_after, COUNT(units_after));
	if ((unit || unit_before(text, p)) && v > 0 && v * 100 > out->amount_fen) {
		out->amount_fen = v * 100;
		out->amount_cue[0] = '\0';
		cue(out->amount_cue, p, (size_t)(after - p) + unit);
	}
	return len;
}

/* 第三次投诉, 第2次了: the n-th time. */
static size_t nth_at(const char *p, struct textsig *out)
{
	if (strncmp(p, "第", 3) != 0)
		return 0;
	size_t len;
	long long n = textsig_number(p + 3, &len);
	const char *q = p + 3 + len;
	if (len == 0 || strncmp(q, "次", 3) != 0 || n < 2)
		return 0;
	size_t k = starts_any(q + 3, repeat_after_nth, COUNT(repeat_after_nth));
	if (!k)
		return 0;
	if (n > out->repeat)
		out->repeat = (int)n;
	cue(out->repeat_cue, p, (size_t)(q + 3 + k - p));
	return (size_t)(q + 3 + k - p);
}

static void words_at(const char *p, struct textsig *out)
{
	size_t k;
	if ((k = starts_any(p, deadline_words, COUNT(deadline_words)))) {
		out->deadline = true;
		cue(out->deadline_cue, p, k);
	}
	if ((k = starts_any(p, repeat_words, COUNT(repeat_words)))) {
		out->repeat = out->repeat ? out->repeat : 2;
		cue(out->repeat_cue, p, k);
	}
	if ((p[0] == '!' || p[0] == '?') && (p[1] == '!' || p[1] == '?'))
		out->shouting = true;
}

void textsig_scan(const char *folded, struct textsig *out)
{
	memset(out, 0, sizeof(*out));
	for (const char *p = folded; *p;) {
		size_t k;
		unsigned cp;
		bool word_start = p == folded || !isalnum((unsigned char)p[-1]);
		words_at(p, out);
		if ((k = nth_at(p, out)) || (word_start && (k = money_at(folded, p, out)))) {
			p += k;
			continue;
		}
		p += textnorm_utf8(p, &cp);
	}
}
