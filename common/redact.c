#include "redact.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>

/* Length of the phone-like run at p (0 when there is none). */
static size_t redact_phone_run(const char *p)
{
	size_t n = 0, digits = 0;
	if (!isdigit((unsigned char)*p) && *p != '+')
		return 0;
	while (p[n] && (isdigit((unsigned char)p[n]) || p[n] == '-' || p[n] == ' ' ||
			(p[n] == '+' && n == 0))) {
		digits += isdigit((unsigned char)p[n]) != 0;
		n++;
	}
	while (n > 0 && !isdigit((unsigned char)p[n - 1]))
		n--;
	return digits >= 7 ? n : 0;
}

static size_t redact_put(char *out, size_t len, size_t cap, const char *s, size_t n)
{
	size_t room = cap - 1 - len;
	n = n < room ? n : room;
	memcpy(out + len, s, n);
	return len + n;
}

void redact_text(const char *text, const char *name, const char *phone_mark, char *out, size_t cap)
{
	size_t len = 0, nlen = name ? strlen(name) : 0;
	if (cap == 0)
		return;
	for (const char *p = text; *p && len + 1 < cap;) {
		size_t run;
		if (nlen >= 2 && strncmp(p, name, nlen) == 0) {
			len = redact_put(out, len, cap, "[name]", 6);
			p += nlen;
		} else if ((run = redact_phone_run(p)) > 0) {
			len = redact_put(out, len, cap, phone_mark, strlen(phone_mark));
			p += run;
		} else {
			size_t skip = 1;
			while (isdigit((unsigned char)*p) && isdigit((unsigned char)p[skip]))
				skip++; /* a short number is copied whole, never split into a match
					 */
			len = redact_put(out, len, cap, p, skip);
			p += skip;
		}
	}
	out[len] = '\0';
}
