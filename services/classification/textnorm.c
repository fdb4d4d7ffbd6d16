/* Text normalisation (textnorm.h): OpenCC for traditional -> simplified, the rest pure. */
#include <ctype.h>
#include <opencc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "negation.h"
#include "textnorm.h"

struct textnorm {
	opencc_t cc;
	/* OpenCC does not document its converter as thread-safe; the consumer and the HTTP
	 * workers may read texts at once, and a conversion takes microseconds. */
	pthread_mutex_t lock;
};

struct textnorm *textnorm_new(const char *config, char *errstr, size_t errlen)
{
	struct textnorm *n = calloc(1, sizeof(*n));
	if (!n) {
		snprintf(errstr, errlen, "out of memory");
		return NULL;
	}
	n->cc = opencc_open(config);
	if (n->cc == (opencc_t)-1) {
		snprintf(errstr, errlen, "cannot open the OpenCC configuration '%s': %s", config,
			 opencc_error());
		free(n);
		return NULL;
	}
	pthread_mutex_init(&n->lock, NULL);
	return n;
}

void textnorm_free(struct textnorm *n)
{
	if (!n)
		return;
	opencc_close(n->cc);
	pthread_mutex_destroy(&n->lock);
	free(n);
}

/* Copies at most cap-1 bytes of in, never cutting a UTF-8 character. */
static void copy_whole(const char *in, char *out, size_t cap)
{
	size_t o = 0;
	unsigned cp;
	while (*in) {
		size_t k = textnorm_utf8(in, &cp);
		if (o + k >= cap)
			break;
		memcpy(out + o, in, k);
		o += k;
		in += k;
	}
	out[o] = '\0';
}

int textnorm_t2s(struct textnorm *n, const char *in, char *out, size_t cap)
{
	if (!n) {
		copy_whole(in, out, cap);
		return -1;
	}
	pthread_mutex_lock(&n->lock);
	char *s = opencc_convert_utf8(n->cc, in, strlen(in));
	pthread_mutex_unlock(&n->lock);
	copy_whole(s ? s : in, out, cap);
	if (s)
		opencc_convert_utf8_free(s);
	return s ? 0 : -1;
}

size_t textnorm_utf8(const char *s, unsigned *cp)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t k = u[0] < 0x80		   ? 1
		   : (u[0] & 0xE0) == 0xC0 ? 2
		   : (u[0] & 0xF0) == 0xE0 ? 3
		   : (u[0] & 0xF8) == 0xF0 ? 4
					   : 0;
	if (k == 0) {
		*cp = 0xFFFD;
		return 1;
	}
	unsigned v = k == 1 ? u[0] : u[0] & (0x7F >> k);
	for (size_t i = 1; i < k; i++) {
		if ((u[i] & 0xC0) != 0x80) {
			*cp = 0xFFFD;
			return 1;
		}
		v = (v << 6) | (u[i] & 0x3F);
	}
	*cp = v;
	return k;
}

/* The ASCII (or short UTF-8) replacement of a code point, or NULL to keep it as it is. */
static const char *fold_cp(unsigned cp, char *buf)
{
	static const struct {
		unsigned cp;
		const char *to;
	} map[] = {
	    {0x3000, " "},  {0x3002, "."},  {0x3001, ","},   {0xFF61, "."},  {0xFF64, ","},
	    {0x201C, "\""}, {0x201D, "\""}, {0x300C, "\""},  {0x300D, "\""}, {0x300E, "\""},
	    {0x300F, "\""}, {0x300A, "\""}, {0x300B, "\""},  {0x2018, "'"},  {0x2019, "'"},
	    {0x3010, "["},  {0x3011, "]"},  {0x2026, "..."}, {0x2014, "-"},  {0x2013, "-"},
	    {0xFFE5, "¥"},  {0x00A0, " "},
	};
	if (cp >= 0xFF01 && cp <= 0xFF5E) {
		buf[0] = (char)tolower((int)(cp - 0xFEE0));
		buf[1] = '\0';
		return buf;
	}
	if (cp < 0x20 || cp == 0x7F)
		return " ";
	if (cp < 0x80) {
		buf[0] = (char)tolower((int)cp);
		buf[1] = '\0';
		return buf;
	}
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i].cp == cp)
			return map[i].to;
	return cp == 0xFFFD ? "" : NULL;
}

void textnorm_fold(const char *in, char *out, size_t cap)
{
	size_t o = 0;
	char buf[2];
	while (*in) {
		unsigned cp;
		size_t k = textnorm_utf8(in, &cp);
		const char *to = fold_cp(cp, buf);
		size_t len = to ? strlen(to) : k;
		if (o + len >= cap)
			break;
		memcpy(out + o, to ? to : in, len);
		o += len;
		in += k;
	}
	out[o] = '\0';
}

void textnorm_text(struct textnorm *n, const char *in, char *out, size_t cap)
{
	char *simple = malloc(cap);
	if (!simple || textnorm_t2s(n, in ? in : "", simple, cap) != 0)
		textnorm_fold(in ? in : "", out, cap);
	else
		textnorm_fold(simple, out, cap);
	free(simple);
}

/* --- the model's tokens --- */

struct tokens {
	char *out;
	size_t cap, o;
	bool full;
};

static void emit(struct tokens *t, unsigned char mark, const char *tok, size_t len)
{
	const char *prefix = mark & NEGATION_NEGATED ? "^" : mark & NEGATION_CONCEDED ? "~" : "";
	size_t need = (t->o ? 1 : 0) + strlen(prefix) + len;
	if (t->full || t->o + need >= t->cap) {
		t->full = true;
		return;
	}
	if (t->o)
		t->out[t->o++] = ' ';
	t->o += (size_t)sprintf(t->out + t->o, "%s%.*s", prefix, (int)len, tok);
}

static bool is_alnum(char c)
{
	return isalnum((unsigned char)c) != 0;
}

/* An ASCII run of letters and digits at s (apostrophes inside words kept): emits <id> for a
 * waybill-like code, otherwise its letter parts as words and its digit parts as <num>. */
static size_t ascii_run(struct tokens *t, const char *s, unsigned char mark)
{
	size_t n = 0, digits = 0;
	while (is_alnum(s[n]) || (s[n] == '\'' && n > 0 && isalpha((unsigned char)s[n + 1])) ||
	       ((s[n] == '.' || s[n] == ',') && n > 0 && isdigit((unsigned char)s[n - 1]) &&
		isdigit((unsigned char)s[n + 1])))
		digits += isdigit((unsigned char)s[n++]) != 0;
	if ((digits >= 8 && digits < n) || digits >= 10) {
		emit(t, mark, "<id>", 4);
		return n;
	}
	for (size_t i = 0; i < n;) {
		size_t j = i;
		bool num = isdigit((unsigned char)s[i]) != 0;
		while (j < n &&
		       (num ? !isalpha((unsigned char)s[j]) : !isdigit((unsigned char)s[j])))
			j++;
		if (num)
			emit(t, mark, "<num>", 5);
		else
			emit(t, mark, s + i, j - i);
		i = j;
	}
	return n;
}

void textnorm_tokens(const char *folded, char *out, size_t cap)
{
	size_t n = strlen(folded);
	unsigned char *marks = calloc(n ? n : 1, 1);
	struct tokens t = {out, cap, 0, false};
	if (cap)
		out[0] = '\0';
	if (!marks || !cap) {
		free(marks);
		return;
	}
	negation_mark(folded, n, marks);
	for (size_t i = 0; i < n && !t.full;) {
		unsigned cp;
		if (strncmp(folded + i, "[phone]", 7) == 0 ||
		    strncmp(folded + i, "[name]", 6) == 0) {
			bool phone = folded[i + 1] == 'p';
			emit(&t, marks[i], phone ? "<id>" : "<name>", phone ? 4 : 6);
			i += phone ? 7 : 6;
		} else if (is_alnum(folded[i])) {
			i += ascii_run(&t, folded + i, marks[i]);
		} else if ((unsigned char)folded[i] >= 0x80) {
			size_t k = textnorm_utf8(folded + i, &cp);
			emit(&t, marks[i], folded + i, k);
			i += k;
		} else {
			if (strchr("!?$%", folded[i]))
				emit(&t, 0, folded + i, 1);
			i++;
		}
	}
	out[t.o] = '\0';
	free(marks);
}
