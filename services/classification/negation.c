/* Negation scopes and contrast clauses (negation.h). Pure. */
#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#include "negation.h"
#include "textnorm.h"

/* Chinese negators and how many characters they deny. The long forms first: the scan takes
 * the first that matches. A single 不/没 denies only the next two characters because it is
 * also part of verbs that are complaints themselves (不知道 / 送不到 / 没人管). */
static const struct negator {
	const char *word;
	int reach;
} zh_negators[] = {
    {"并没有", 5}, {"并不是", 5}, {"没有被", 5}, {"没有", 5}, {"不是", 5}, {"并非", 5}, {"并未", 5},
    {"从未", 5},   {"没被", 4},	  {"没", 2},	 {"不", 2},   {"未", 2},   {"无", 2},	{"别", 2},
};

/* Words that start with a negator character but deny nothing: "not only", "constantly",
 * "no matter"... and cue words whose negation IS the complaint are left to the model. */
static const char *const zh_not_negators[] = {
    "不仅", "不但", "不光", "不只", "不止",   "不断",	  "不停",     "不得不", "不少", "不久",
    "无论", "不管", "不然", "不料", "没想到", "不好意思", "毫无疑问", "无奈",	"未免",
};

static const char *const en_negators[] = {
    "not",    "no",   "never", "without", "nothing", "neither", "nor",	 "cannot", "dont", "didnt",
    "doesnt", "isnt", "wasnt", "arent",	  "werent",  "havent",	"hasnt", "wont",   "cant", "none"};

/* Contrast markers: the clause after them is the complaint. */
static const char *const zh_contrasts[] = {"而是", "但是", "可是", "不过",
					   "然而", "只是", "但",   "却"};
static const char *const en_contrasts[] = {"but", "however", "instead", "rather"};
/* Turns that are a contrast only at the start of a clause following a denial. */
static const char *const zh_turns[] = {"就是", "是"};
static const char *const en_turns[] = {"just",	"only",	  "it's",   "its",
				       "it is", "it was", "simply", "merely"};

#define NEG_ZH_COUNT  (sizeof(zh_negators) / sizeof(zh_negators[0]))
#define COUNT(a)      (sizeof(a) / sizeof((a)[0]))
#define EN_WORD_REACH 3

struct scan {
	const char *t;
	size_t n;
	unsigned char *marks;
};

static bool starts(const struct scan *s, size_t i, const char *w)
{
	size_t k = strlen(w);
	return i + k <= s->n && memcmp(s->t + i, w, k) == 0;
}

static bool is_word(char c)
{
	return isalnum((unsigned char)c) || c == '\'';
}

/* An ASCII word w at i, bounded on both sides. */
static bool word_at(const struct scan *s, size_t i, const char *w)
{
	size_t k = strlen(w);
	return starts(s, i, w) && (i == 0 || !is_word(s->t[i - 1])) &&
	       (i + k == s->n || !is_word(s->t[i + k]));
}

/* The ASCII word at i ends in n't (didn't, isn't, won't). */
static size_t nt_word(const struct scan *s, size_t i)
{
	if (i > 0 && is_word(s->t[i - 1]))
		return 0;
	size_t e = i;
	while (e < s->n && is_word(s->t[e]))
		e++;
	return e - i >= 4 && memcmp(s->t + e - 3, "n't", 3) == 0 ? e - i : 0;
}

static bool clause_end(char c)
{
	return c == ',' || c == '.' || c == '!' || c == '?' || c == ';' || c == ':' || c == '\n';
}

static bool sentence_end(const struct scan *s, size_t i)
{
	char c = s->t[i];
	if (c == '.' && i > 0 && i + 1 < s->n && isdigit((unsigned char)s->t[i - 1]) &&
	    isdigit((unsigned char)s->t[i + 1]))
		return false; /* 2.5 kg */
	return c == '.' || c == '!' || c == '?' || c == ';' || c == '\n';
}

static size_t match_any(const struct scan *s, size_t i, const char *const *list, size_t n,
			bool ascii)
{
	for (size_t k = 0; k < n; k++)
		if (ascii ? word_at(s, i, list[k]) : starts(s, i, list[k]))
			return strlen(list[k]);
	return 0;
}

static size_t contrast_at(const struct scan *s, size_t i)
{
	if (word_at(s, i, "but") && (starts(s, i, "but also") || starts(s, i, "but not")))
		return 0;
	size_t k = match_any(s, i, zh_contrasts, COUNT(zh_contrasts), false);
	return k ? k : match_any(s, i, en_contrasts, COUNT(en_contrasts), true);
}

/* Marks the scope of a negator that ends at i; returns where the scan continues. */
static size_t deny(struct scan *s, size_t i, int reach, bool words)
{
	int units = 0;
	while (i < s->n && units < reach && !clause_end(s->t[i]) && !contrast_at(s, i)) {
		unsigned cp;
		size_t k = textnorm_utf8(s->t + i, &cp);
		if (words && is_word(s->t[i])) {
			while (i < s->n && is_word(s->t[i]))
				s->marks[i++] |= NEGATION_NEGATED;
			units++;
			continue;
		}
		if (!words && cp < 0x80 && !is_word(s->t[i])) {
			i++; /* spaces do not count against a Chinese scope */
			continue;
		}
		for (size_t j = 0; j < k && i + j < s->n; j++)
			s->marks[i + j] |= NEGATION_NEGATED;
		units += cp >= 0x80 || !words;
		i += k;
	}
	return i;
}

/* A negator at i: its length and reach (0 when none). */
static size_t negator_at(const struct scan *s, size_t i, int *reach, bool *words)
{
	*words = false;
	if (match_any(s, i, zh_not_negators, COUNT(zh_not_negators), false))
		return 0;
	for (size_t k = 0; k < NEG_ZH_COUNT; k++)
		if (starts(s, i, zh_negators[k].word)) {
			*reach = zh_negators[k].reach;
			return strlen(zh_negators[k].word);
		}
	*words = true;
	*reach = EN_WORD_REACH;
	if (starts(s, i, "not only") || starts(s, i, "no longer"))
		return 0;
	size_t k = match_any(s, i, en_negators, COUNT(en_negators), true);
	return k ? k : nt_word(s, i);
}

/* Everything from the start of the sentence up to the marker at i is conceded. */
static void concede(struct scan *s, size_t i)
{
	size_t b = i;
	while (b > 0 && !sentence_end(s, b - 1))
		b--;
	for (; b < i; b++)
		s->marks[b] |= NEGATION_CONCEDED;
}

/* The start of a clause (after a comma) that follows a clause with a negation in it. */
static size_t turn_at(const struct scan *s, size_t i, bool denied_before)
{
	if (!denied_before)
		return 0;
	size_t k = match_any(s, i, zh_turns, COUNT(zh_turns), false);
	return k ? k : match_any(s, i, en_turns, COUNT(en_turns), true);
}

void negation_mark(const char *text, size_t n, unsigned char *marks)
{
	struct scan s = {text, n, marks};
	bool clause_start = true, denied = false, denied_before = false;
	memset(marks, 0, n);
	for (size_t i = 0; i < n;) {
		size_t k;
		int reach;
		bool words;
		if (text[i] == ' ') {
			i++;
			continue;
		}
		if (clause_end(text[i])) {
			denied_before = text[i] == ',' ? denied : false;
			denied = false;
			clause_start = true;
			i++;
			continue;
		}
		if ((k = contrast_at(&s, i)) ||
		    (clause_start && (k = turn_at(&s, i, denied_before)))) {
			concede(&s, i);
			i += k;
		} else if ((k = negator_at(&s, i, &reach, &words))) {
			denied = true;
			i = deny(&s, i + k, reach, words);
		} else {
			unsigned cp;
			i += is_word(text[i]) ? 1 : textnorm_utf8(text + i, &cp);
			while (is_word(text[i - 1]) && i < n && is_word(text[i]))
				i++;
		}
		clause_start = false;
	}
}
