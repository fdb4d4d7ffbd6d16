/* Configuration from environment variables, one table per service (12-factor).
 * Every entry may also be given as NAME_FILE (a path whose content is the value), which is
 * how secrets are passed. `--help` prints the table. */
#ifndef CP_CFG_H
#define CP_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum cfg_type { CFG_STR, CFG_INT, CFG_BOOL, CFG_SECRET };

struct cfg_entry {
	const char *name; /* environment variable */
	enum cfg_type type;
	const char *def;    /* default as text; NULL means required */
	long long min, max; /* bounds for CFG_INT (inclusive) */
	const char *desc;
	void *target; /* char ** (STR, SECRET; malloc'ed, owned by the caller),
		       * long long * (INT), bool * (BOOL) */
};

/* Reads every entry. On error returns -1 and names the variable and the problem in errstr. */
int cfg_load(const struct cfg_entry *tab, size_t n, char *errstr, size_t errlen)
    __attribute__((warn_unused_result));

/* Parses one value for entry e into its target (used by cfg_load and tests). */
int cfg_parse_value(const struct cfg_entry *e, const char *value, char *errstr, size_t errlen)
    __attribute__((warn_unused_result));

void cfg_print_help(FILE *out, const char *service, const char *summary,
		    const struct cfg_entry *tab, size_t n);

/* Prints the effective configuration, one NAME=value line each with where it came from
 * (environment, file, default) and the KAFKA_* properties passed through; secrets redacted
 * (cfg_redact), never printed. */
void cfg_print_config(FILE *out, const struct cfg_entry *tab, size_t n);
/* The shown form of a secret: a URI with its password replaced by ***, a development default
 * named as such, otherwise only its length. */
void cfg_redact(const char *value, char *out, size_t cap);

/* The prefix of every known development secret default ("dev-only-..."). */
#define CFG_DEV_SECRET_PREFIX "dev-only-"

/* After cfg_load: the names of the CFG_SECRET entries whose value is a known development
 * secret (starts with CFG_DEV_SECRET_PREFIX), comma-separated into names; returns how many. */
int cfg_dev_secrets(const struct cfg_entry *tab, size_t n, char *names, size_t cap);

/* Frees the strings cfg_load allocated. */
void cfg_free(const struct cfg_entry *tab, size_t n);

/* Calls set(prop, value) for every environment variable PREFIX_REST, mapping REST to a
 * lowercase dotted librdkafka property (KAFKA_FETCH_WAIT_MAX_MS -> fetch.wait.max.ms).
 * Variables whose REST starts with one of the excluded prefixes are skipped. PREFIX_REST_FILE
 * reads REST's value from that file (secrets: KAFKA_SASL_PASSWORD_FILE); an unreadable file
 * is reported on stderr and returns -1. Returns the first non-zero result of set. */
int cfg_passthrough(const char *prefix, const char *const *exclude,
		    int (*set)(const char *prop, const char *value, void *arg), void *arg);

/* Maps PREFIX_REST to a property name; returns -1 if the buffer is too small. */
int cfg_env_to_prop(const char *rest, char *prop, size_t cap);

#endif
