#include "cfg.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

extern char **environ;

static char *cfg_read_file(const char *path, char *errstr, size_t errlen, const char *name)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(errstr, errlen, "%s_FILE: cannot open %s: %s", name, path,
			 strerror(errno));
		return NULL;
	}
	char *buf = calloc(1, 65536);
	size_t n = buf ? fread(buf, 1, 65535, f) : 0;
	fclose(f);
	if (!buf)
		return NULL;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	return buf;
}

static int cfg_parse_int(const struct cfg_entry *e, const char *value, char *errstr, size_t errlen)
{
	char *end = NULL;
	errno = 0;
	long long v = strtoll(value, &end, 10);
	if (errno || end == value || *end != '\0') {
		snprintf(errstr, errlen, "%s: '%s' is not an integer", e->name, value);
		return -1;
	}
	if (v < e->min || v > e->max) {
		snprintf(errstr, errlen, "%s: %lld is out of range [%lld, %lld]", e->name, v,
			 e->min, e->max);
		return -1;
	}
	*(long long *)e->target = v;
	return 0;
}

static int cfg_parse_bool(const struct cfg_entry *e, const char *value, char *errstr, size_t errlen)
{
	static const char *const yes[] = {"1", "true", "yes", "on"};
	static const char *const no[] = {"0", "false", "no", "off"};
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(value, yes[i]) == 0 || strcasecmp(value, no[i]) == 0) {
			*(bool *)e->target = strcasecmp(value, yes[i]) == 0;
			return 0;
		}
	}
	snprintf(errstr, errlen, "%s: '%s' is not a boolean (true/false)", e->name, value);
	return -1;
}

int cfg_parse_value(const struct cfg_entry *e, const char *value, char *errstr, size_t errlen)
{
	switch (e->type) {
	case CFG_INT:
		return cfg_parse_int(e, value, errstr, errlen);
	case CFG_BOOL:
		return cfg_parse_bool(e, value, errstr, errlen);
	case CFG_STR:
	case CFG_SECRET: {
		char **dst = e->target;
		free(*dst);
		*dst = strdup(value);
		return *dst ? 0 : -1;
	}
	}
	return -1;
}

static int cfg_load_one(const struct cfg_entry *e, char *errstr, size_t errlen)
{
	char fname[160];
	const char *value = getenv(e->name);
	char *owned = NULL;

	if (!value) {
		snprintf(fname, sizeof(fname), "%s_FILE", e->name);
		const char *path = getenv(fname);
		if (path) {
			owned = cfg_read_file(path, errstr, errlen, e->name);
			if (!owned)
				return -1;
			value = owned;
		}
	}
	if (!value)
		value = e->def;
	if (!value) {
		snprintf(errstr, errlen, "%s: required but not set", e->name);
		return -1;
	}
	int rc = cfg_parse_value(e, value, errstr, errlen);
	free(owned);
	return rc;
}

int cfg_load(const struct cfg_entry *tab, size_t n, char *errstr, size_t errlen)
{
	for (size_t i = 0; i < n; i++)
		if (cfg_load_one(&tab[i], errstr, errlen) != 0)
			return -1;
	return 0;
}

void cfg_free(const struct cfg_entry *tab, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (tab[i].type == CFG_STR || tab[i].type == CFG_SECRET) {
			char **p = tab[i].target;
			free(*p);
			*p = NULL;
		}
	}
}

void cfg_print_help(FILE *out, const char *service, const char *summary,
		    const struct cfg_entry *tab, size_t n)
{
	static const char *const types[] = {"string", "integer", "boolean", "secret"};
	fprintf(out,
		"cp-%s: %s\n\nConfiguration (environment variables; NAME_FILE reads the "
		"value from a file):\n\n",
		service, summary);
	for (size_t i = 0; i < n; i++) {
		const struct cfg_entry *e = &tab[i];
		bool dev = e->def && strncmp(e->def, CFG_DEV_SECRET_PREFIX,
					     strlen(CFG_DEV_SECRET_PREFIX)) == 0;
		fprintf(out, "  %-32s %-8s default: %s", e->name, types[e->type],
			!e->def				    ? "(required)"
			: e->type != CFG_SECRET || !*e->def ? e->def
			: dev ? "(development only: refused unless DEV_MODE=true)"
			      : "(set)");
		if (e->type == CFG_INT)
			fprintf(out, "  range: [%lld, %lld]", e->min, e->max);
		fprintf(out, "\n      %s\n", e->desc);
		if (e->type == CFG_SECRET)
			fprintf(out, "      or %s_FILE: the path of a file holding it\n", e->name);
	}
	fprintf(out,
		"\n  KAFKA_*                          string   any librdkafka property, e.g. "
		"KAFKA_FETCH_WAIT_MAX_MS -> fetch.wait.max.ms\n"
		"  KAFKA_PRODUCER_* / KAFKA_CONSUMER_*        the same, for one client only\n");
}

int cfg_env_to_prop(const char *rest, char *prop, size_t cap)
{
	size_t i = 0;
	for (; rest[i]; i++) {
		if (i + 1 >= cap)
			return -1;
		prop[i] = rest[i] == '_' ? '.' : (char)tolower((unsigned char)rest[i]);
	}
	prop[i] = '\0';
	return i ? 0 : -1;
}

static bool cfg_excluded(const char *rest, const char *const *exclude)
{
	for (; exclude && *exclude; exclude++)
		if (strncmp(rest, *exclude, strlen(*exclude)) == 0)
			return true;
	return false;
}

int cfg_passthrough(const char *prefix, const char *const *exclude,
		    int (*set)(const char *prop, const char *value, void *arg), void *arg)
{
	size_t plen = strlen(prefix);
	char name[256], prop[256];

	for (char **env = environ; env && *env; env++) {
		const char *eq = strchr(*env, '=');
		if (!eq || strncmp(*env, prefix, plen) != 0 || (size_t)(eq - *env) >= sizeof(name))
			continue;
		memcpy(name, *env, (size_t)(eq - *env));
		name[eq - *env] = '\0';
		const char *rest = name + plen;
		/* PREFIX_REST_FILE names a file holding the value (a mounted secret such as the
		 * SASL password); no librdkafka property ends in ".file", so the suffix is free */
		size_t rlen = strlen(rest);
		bool from_file = rlen > 5 && strcmp(rest + rlen - 5, "_FILE") == 0;
		if (from_file)
			name[plen + rlen - 5] = '\0';
		if (cfg_excluded(rest, exclude) || cfg_env_to_prop(rest, prop, sizeof(prop)) != 0)
			continue;
		char *owned = NULL, err[256];
		if (from_file && !(owned = cfg_read_file(eq + 1, err, sizeof(err), name))) {
			fprintf(stderr, "%s\n", err);
			return -1;
		}
		int rc = set(prop, owned ? owned : eq + 1, arg);
		free(owned);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int cfg_dev_secrets(const struct cfg_entry *tab, size_t n, char *names, size_t cap)
{
	int found = 0;
	size_t len = 0;
	if (cap)
		names[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		const char *v = tab[i].type == CFG_SECRET ? *(char **)tab[i].target : NULL;
		if (!v || strncmp(v, CFG_DEV_SECRET_PREFIX, strlen(CFG_DEV_SECRET_PREFIX)) != 0)
			continue;
		if (len < cap)
			len += (size_t)snprintf(names + len, cap - len, "%s%s", found ? ", " : "",
						tab[i].name);
		found++;
	}
	return found;
}

/* A secret as the configuration dump shows it: a connection URI keeps everything but its
 * password (the host and the role are what an operator checks), a development default says
 * so, anything else shows only that it is set. */
void cfg_redact(const char *value, char *out, size_t cap)
{
	const char *scheme = strstr(value, "://");
	if (!*value) {
		snprintf(out, cap, "%s", "");
	} else if (strncmp(value, CFG_DEV_SECRET_PREFIX, strlen(CFG_DEV_SECRET_PREFIX)) == 0) {
		snprintf(out, cap, "(development default %s...)", CFG_DEV_SECRET_PREFIX);
	} else if (scheme) {
		const char *user = scheme + 3, *at = strchr(user, '@');
		const char *colon = at ? memchr(user, ':', (size_t)(at - user)) : NULL;
		size_t len = 0;
		if (colon)
			len = (size_t)snprintf(out, cap, "%.*s:***%s", (int)(colon - value), value,
					       at);
		else
			len = (size_t)snprintf(out, cap, "%s", value);
		/* and a password given as a query parameter (libpq accepts ?password=) */
		char *pw = len < cap ? strstr(out, "password=") : NULL;
		if (pw) {
			char *end = strchr(pw, '&');
			char tail[256];
			snprintf(tail, sizeof(tail), "%s", end ? end : "");
			snprintf(pw, cap - (size_t)(pw - out), "password=***%s", tail);
		}
	} else {
		snprintf(out, cap, "(set, %zu characters)", strlen(value));
	}
}

/* A passed-through librdkafka property whose value must not be printed. */
static bool cfg_secret_prop(const char *name)
{
	static const char *const words[] = {"PASSWORD", "SECRET", "KEY", "TOKEN", "CREDENTIAL"};
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strstr(name, words[i]))
			return true;
	return false;
}

void cfg_print_config(FILE *out, const struct cfg_entry *tab, size_t n)
{
	char shown[512], fname[160];
	for (size_t i = 0; i < n; i++) {
		const struct cfg_entry *e = &tab[i];
		snprintf(fname, sizeof(fname), "%s_FILE", e->name);
		const char *file = getenv(e->name) ? NULL : getenv(fname);
		const char *source = getenv(e->name) ? "environment" : file ? "file" : "default";
		switch (e->type) {
		case CFG_INT:
			snprintf(shown, sizeof(shown), "%lld", *(long long *)e->target);
			break;
		case CFG_BOOL:
			snprintf(shown, sizeof(shown), "%s", *(bool *)e->target ? "true" : "false");
			break;
		case CFG_STR:
			snprintf(shown, sizeof(shown), "%s",
				 *(char **)e->target ? *(char **)e->target : "");
			break;
		case CFG_SECRET:
			cfg_redact(*(char **)e->target ? *(char **)e->target : "", shown,
				   sizeof(shown));
			break;
		}
		fprintf(out, "%s=%s", e->name, shown);
		if (file)
			fprintf(out, "  # from %s", file);
		else
			fprintf(out, "  # %s", source);
		fputc('\n', out);
	}
	/* the librdkafka properties passed through, as given */
	for (char **env = environ; env && *env; env++) {
		const char *eq = strchr(*env, '=');
		if (!eq || strncmp(*env, "KAFKA_", 6) != 0 ||
		    strncmp(*env, "KAFKA_BOOTSTRAP_SERVERS=", 24) == 0)
			continue;
		int nlen = (int)(eq - *env);
		snprintf(shown, sizeof(shown), "%.*s", nlen, *env);
		bool file = nlen > 5 && strcmp(shown + nlen - 5, "_FILE") == 0;
		if (!file && cfg_secret_prop(shown))
			fprintf(out, "%s=(set, %zu characters)  # librdkafka\n", shown,
				strlen(eq + 1));
		else
			fprintf(out, "%s=%s  # librdkafka%s\n", shown, eq + 1,
				file ? ", the value is read from this file" : "");
	}
}
