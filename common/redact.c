#include "redact.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <utf8proc.h>

/* The most separators or ideographs between two digit groups of one number, and the most
 * groups: a phone number is written in three or four groups. */
#define REDACT_GAP_MAX	  3
#define REDACT_GROUPS_MAX 6

/* One code point of text at p: its value (-1 for a byte that is not UTF-8, taken alone) and
 * its length in bytes. */
static int32_t redact_next(const char *p, size_t *len)
{
	utf8proc_int32_t cp;
	utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)p, -1, &cp);
	if (n <= 0) {
		*len = 1;
		return -1;
	}
	*len = (size_t)n;
	return cp;
}

/* The code point as it reads after NFKC (compatibility) normalisation when that is one ASCII
 * character: full-width digits and signs, the ideographic space, circled digits... -> ASCII;
 * else the code point itself. */
static int32_t redact_fold(int32_t cp)
{
	if (cp < 0x80)
		return cp;
	utf8proc_int32_t buf[4];
	int last = 0;
	utf8proc_ssize_t n =
	    utf8proc_decompose_char(cp, buf, 4, UTF8PROC_COMPAT | UTF8PROC_COMPOSE, &last);
	return n == 1 && buf[0] < 0x80 ? buf[0] : cp;
}

/* The digit a code point stands for (0-9), or -1: ASCII and every digit NFKC folds to one, and
 * the Chinese numerals people spell phone numbers with (幺 is "one" read aloud). */
static int redact_digit(int32_t cp)
{
	static const int32_t han[] = {0x3007, 0x4E00, 0x4E8C, 0x4E09, 0x56DB, 0x4E94,
				      0x516D, 0x4E03, 0x516B, 0x4E5D}; /* 〇一二三四五六七八九 */
	int32_t f = redact_fold(cp);
	if (f >= '0' && f <= '9')
		return f - '0';
	if (cp == 0x96F6) /* 零 */
		return 0;
	if (cp == 0x5E7A) /* 幺 */
		return 1;
	for (int i = 0; i < 10; i++)
		if (cp == han[i])
			return i;
	return -1;
}

static bool redact_separator(int32_t cp)
{
	int32_t f = redact_fold(cp);
	return f == ' ' || f == '-' || f == '.' || f == '(' || f == ')' || f == '/' || f == '_' ||
	       f == '\t' || cp == 0x00B7 || cp == 0x2013 || cp == 0x2014 || cp == 0x3001 ||
	       cp == 0x30FB || cp == 0x2027;
}

static bool redact_ideograph(int32_t cp)
{
	return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF);
}

/* Digits of the group starting at p (consecutive digits), and where it ends. */
static size_t redact_group(const char *p, const char **end)
{
	size_t digits = 0, len;
	while (*p && redact_digit(redact_next(p, &len)) >= 0) {
		digits++;
		p += len;
	}
	*end = p;
	return digits;
}

/* Length in bytes of the phone-like run at p (0 when there is none): an optional '+', then
 * digit groups, seven or more digits in all. Between groups up to REDACT_GAP_MAX separators
 * (spaces, dashes, dots, brackets, slashes in any width) or Chinese characters; a gap with a
 * dot or a Chinese character joins only groups of three or more digits, so dates
 * (2026年11月24日, 24.11.2026) and amounts stay readable while 138.0013.8000 and
 * 138转0013转8000 do not. */
static size_t redact_phone_run(const char *p)
{
	const char *q = p, *end, *last_end = NULL;
	size_t len, digits = 0, prev;
	int groups = 0;
	int32_t cp = redact_next(q, &len);
	if (redact_fold(cp) == '+')
		q += len;
	prev = redact_group(q, &end);
	if (prev == 0)
		return 0;
	digits = prev;
	last_end = end;
	groups = 1;
	while (*end && groups < REDACT_GROUPS_MAX) {
		const char *g = end;
		bool strict = false;
		int gap = 0;
		while (*g && gap < REDACT_GAP_MAX) {
			cp = redact_next(g, &len);
			if (redact_digit(cp) >= 0)
				break;
			if (redact_ideograph(cp) || redact_fold(cp) == '.')
				strict = true;
			else if (!redact_separator(cp))
				break;
			g += len;
			gap++;
		}
		if (gap == 0 || !*g || redact_digit(redact_next(g, &len)) < 0)
			break;
		size_t next = redact_group(g, &end);
		if (strict && (prev < 3 || next < 3))
			break;
		digits += next;
		prev = next;
		last_end = end;
		groups++;
	}
	return digits >= 7 ? (size_t)(last_end - p) : 0;
}

static size_t redact_put(char *out, size_t len, size_t cap, const char *s, size_t n)
{
	size_t room = cap - 1 - len;
	if (n > room) {
		n = room;
		/* cut before a character, never inside one */
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(out + len, s, n);
	return len + n;
}

void redact_text(const char *text, const char *name, const char *phone_mark, char *out, size_t cap)
{
	size_t len = 0, nlen = name ? strlen(name) : 0;
	if (cap == 0)
		return;
	for (const char *p = text; *p && len + 1 < cap;) {
		size_t run, cl, before = len;
		if (nlen >= 2 && strncmp(p, name, nlen) == 0) {
			len = redact_put(out, len, cap, "[name]", 6);
			p += nlen;
		} else if ((run = redact_phone_run(p)) > 0) {
			len = redact_put(out, len, cap, phone_mark, strlen(phone_mark));
			p += run;
		} else {
			/* a short number is copied whole, never split into a match; anything else
			 * one code point at a time, so a cut never splits a character */
			const char *end = p;
			if (redact_group(p, &end) == 0)
				redact_next(p, &cl), end = p + cl;
			len = redact_put(out, len, cap, p, (size_t)(end - p));
			p = end;
		}
		if (len == before)
			break; /* out is full: the next piece did not fit */
	}
	out[len] = '\0';
}
