/* JSON-lines logging to stdout: one object per line with ts, level, service, event, msg and
 * optional ids (complaint_no, ce_id, ...). Never log a phone number, name or address.
 * Thread-safe: each line is written with a single write(2). */
#ifndef CP_LOG_H
#define CP_LOG_H

#include <stddef.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };

struct log_kv {
	const char *key;
	const char *value;
};

/* service is copied. */
void log_init(const char *service, enum log_level min_level);
int log_level_parse(const char *s, enum log_level *out);
enum log_level log_min_level(void);

/* kv may be NULL; pairs with a NULL value are skipped. */
void log_msg(enum log_level lvl, const char *event, const struct log_kv *kv, size_t nkv,
	     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Copies in to out[cap] with the value after every "token=", "Bearer " and "\"token\":\"" replaced
 * by "***" (log_msg does this to every message and value). Returns the length written. */
size_t log_mask_secrets(const char *in, char *out, size_t cap);

#define LOG_KV(...)                                                                                \
	((const struct log_kv[]){__VA_ARGS__}),                                                    \
	    (sizeof((const struct log_kv[]){__VA_ARGS__}) / sizeof(struct log_kv))

#define log_debug(ev, ...) log_msg(LOG_DEBUG, ev, NULL, 0, __VA_ARGS__)
#define log_info(ev, ...)  log_msg(LOG_INFO, ev, NULL, 0, __VA_ARGS__)
#define log_warn(ev, ...)  log_msg(LOG_WARN, ev, NULL, 0, __VA_ARGS__)
#define log_error(ev, ...) log_msg(LOG_ERROR, ev, NULL, 0, __VA_ARGS__)

/* The ids of the work this thread is doing (the HTTP request's X-Request-Id, the consumed
 * event's CloudEvents id): every line the thread logs carries them until they are cleared, so
 * one complaint can be followed across services without each call site passing them. value
 * NULL removes key; at most LOG_CONTEXT_MAX keys, values are truncated to 127 bytes. */
#define LOG_CONTEXT_MAX 4
void log_context_set(const char *key, const char *value);
void log_context_clear(void);

/* Appends s to buf as a JSON string body (no quotes), escaping as needed. Returns the new
 * length, never beyond cap-1; buf stays NUL-terminated. */
size_t log_json_escape(char *buf, size_t len, size_t cap, const char *s);

#endif
