#include "log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static char log_service[64] = "cp";
static enum log_level log_min = LOG_INFO;
static const char *const log_names[] = {"debug", "info", "warn", "error"};

struct log_ctx_entry {
	char key[32];
	char value[128];
};
static __thread struct log_ctx_entry log_ctx[LOG_CONTEXT_MAX];
static __thread size_t log_nctx;

void log_context_set(const char *key, const char *value)
{
	size_t i = 0;
	while (i < log_nctx && strcmp(log_ctx[i].key, key) != 0)
		i++;
	if (!value) {
		if (i < log_nctx)
			log_ctx[i] = log_ctx[--log_nctx];
		return;
	}
	if (i == log_nctx) {
		if (log_nctx == LOG_CONTEXT_MAX)
			return;
		log_nctx++;
	}
	snprintf(log_ctx[i].key, sizeof(log_ctx[i].key), "%s", key);
	snprintf(log_ctx[i].value, sizeof(log_ctx[i].value), "%s", value);
}

void log_context_clear(void)
{
	log_nctx = 0;
}

/* A context key is left out when the call names the same key itself (its value is newer). */
static bool log_kv_has(const struct log_kv *kv, size_t nkv, const char *key)
{
	for (size_t i = 0; i < nkv; i++)
		if (kv[i].value && strcmp(kv[i].key, key) == 0)
			return true;
	return false;
}

void log_init(const char *service, enum log_level min_level)
{
	snprintf(log_service, sizeof(log_service), "%s", service);
	log_min = min_level;
}

enum log_level log_min_level(void)
{
	return log_min;
}

int log_level_parse(const char *s, enum log_level *out)
{
	for (int i = 0; i < 4; i++) {
		if (strcmp(s, log_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

size_t log_json_escape(char *buf, size_t len, size_t cap, const char *s)
{
	for (; s && *s && len + 7 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			buf[len++] = '\\';
			buf[len++] = (char)c;
		} else if (c == '\n') {
			buf[len++] = '\\';
			buf[len++] = 'n';
		} else if (c < 0x20) {
			len += (size_t)snprintf(buf + len, cap - len, "\\u%04x", c);
		} else {
			buf[len++] = (char)c;
		}
	}
	buf[len < cap ? len : cap - 1] = '\0';
	return len;
}

static size_t log_put(char *buf, size_t len, size_t cap, const char *key, const char *value)
{
	len += (size_t)snprintf(buf + len, len < cap ? cap - len : 0, ",\"%s\":\"", key);
	if (len >= cap)
		return cap - 1;
	len = log_json_escape(buf, len, cap, value);
	if (len + 1 < cap)
		buf[len++] = '"';
	return len;
}

/* True for the characters a token value is made of (hex, base64url, percent-encoding). */
static bool log_token_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       c == '-' || c == '_' || c == '.' || c == '%' || c == '~' || c == '+' || c == '/' ||
	       c == '=';
}

size_t log_mask_secrets(const char *in, char *out, size_t cap)
{
	static const char *const marks[] = {"token=", "Bearer ", "\"token\":\""};
	size_t len = 0;
	if (cap == 0)
		return 0;
	for (const char *p = in; *p && len + 1 < cap;) {
		size_t m = 0;
		for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]) && !m; i++)
			if (strncasecmp(p, marks[i], strlen(marks[i])) == 0)
				m = strlen(marks[i]);
		if (!m) {
			out[len++] = *p++;
			continue;
		}
		for (size_t i = 0; i < m && len + 1 < cap; i++)
			out[len++] = *p++;
		if (!log_token_char(*p))
			continue;
		while (log_token_char(*p))
			p++;
		for (const char *s = "***"; *s && len + 1 < cap; s++)
			out[len++] = *s;
	}
	out[len] = '\0';
	return len;
}

/* Whether s may hold a secret log_mask_secrets would hide (the cheap test first). */
static bool log_may_hold_secret(const char *s)
{
	return strcasestr(s, "token") || strstr(s, "Bearer ");
}

void log_msg(enum log_level lvl, const char *event, const struct log_kv *kv, size_t nkv,
	     const char *fmt, ...)
{
	char buf[4096], msg[2048], ts[40];
	struct timespec now;
	struct tm tm;
	va_list ap;

	if (lvl < log_min)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* a customer's link token or a bearer token never reaches the log, whatever the caller
	 * formatted (a notification body, a URL, a header): masked here, once for every service */
	char masked[2048];
	if (log_may_hold_secret(msg)) {
		log_mask_secrets(msg, masked, sizeof(masked));
		memcpy(msg, masked, strlen(masked) + 1);
	}
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	size_t len = (size_t)snprintf(buf, sizeof(buf), "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\"",
				      ts, now.tv_nsec / 1000000, log_names[lvl]);
	len = log_put(buf, len, sizeof(buf) - 3, "service", log_service);
	len = log_put(buf, len, sizeof(buf) - 3, "event", event);
	len = log_put(buf, len, sizeof(buf) - 3, "msg", msg);
	for (size_t i = 0; i < nkv; i++) {
		if (!kv[i].value)
			continue;
		const char *v = kv[i].value;
		if (log_may_hold_secret(v)) {
			log_mask_secrets(v, masked, sizeof(masked));
			v = masked;
		}
		len = log_put(buf, len, sizeof(buf) - 3, kv[i].key, v);
	}
	for (size_t i = 0; i < log_nctx; i++)
		if (!log_kv_has(kv, nkv, log_ctx[i].key))
			len = log_put(buf, len, sizeof(buf) - 3, log_ctx[i].key, log_ctx[i].value);
	buf[len++] = '}';
	buf[len++] = '\n';
	ssize_t rc = write(STDOUT_FILENO, buf, len);
	(void)rc;
}
