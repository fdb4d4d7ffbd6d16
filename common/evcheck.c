#include "evcheck.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "httpd.h"
#include "ids.h"
#include "tstamp.h"

/* 2000-01-01 and 2100-01-01: times outside are garbage, whatever parses */
#define EVCHECK_MIN_MS 946684800000LL
#define EVCHECK_MAX_MS 4102444800000LL

static bool evcheck_suffix(const char *name, const char *suffix)
{
	size_t n = strlen(name), s = strlen(suffix);
	return n >= s && strcmp(name + n - s, suffix) == 0;
}

static bool evcheck_is_time(const char *name)
{
	return strcmp(name, "at") == 0 || evcheck_suffix(name, "_at") ||
	       strcmp(name, "next_update_by") == 0 || strcmp(name, "promised_by") == 0;
}

/* The inclusive range of an integer field by its name. */
static void evcheck_int_range(const char *name, long long *lo, long long *hi)
{
	*lo = 0;
	*hi = INT64_MAX;
	if (evcheck_suffix(name, "_fen"))
		*hi = EVCHECK_MAX_FEN;
	else if (strcmp(name, "priority") == 0)
		*hi = 5;
	else if (strcmp(name, "escalation_level") == 0)
		*hi = EVCHECK_MAX_LEVEL;
	else if (evcheck_suffix(name, "_pct"))
		*hi = 100;
	else if (strcmp(name, "survey_score") == 0)
		*hi = 5;
	else if (evcheck_suffix(name, "_s") || strcmp(name, "seconds") == 0 ||
		 evcheck_suffix(name, "_seconds"))
		*hi = EVCHECK_MAX_SECONDS;
	else if (evcheck_suffix(name, "_count") || strcmp(name, "round") == 0 ||
		 strcmp(name, "version") == 0)
		*hi = EVCHECK_MAX_COUNT;
}

/* Where a value is: its field's name under the enclosing message's path, and its index in a
 * repeated field (-1: none). The path text is only made when it is needed (an error, a
 * sub-message): made for every field of every event, its snprintf calls were the consumers'
 * largest printf cost per event in the make bench profile. */
struct evcheck_at {
	const char *prefix;
	const char *name;
	long idx;
};

static void evcheck_path(const struct evcheck_at *at, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s%s%s", at->prefix, at->prefix[0] ? "." : "", at->name);
	if (at->idx >= 0 && n >= 0 && (size_t)n < cap)
		snprintf(out + n, cap - (size_t)n, "[%ld]", at->idx);
}

static int evcheck_fail(char *err, size_t errlen, const struct evcheck_at *at, const char *fmt,
			const char *detail)
{
	char what[160], path[240];
	evcheck_path(at, path, sizeof(path));
	snprintf(what, sizeof(what), fmt, detail);
	snprintf(err, errlen, "%s: %s", path, what);
	return -1;
}

static bool evcheck_complaint_no(const char *s)
{
	size_t n = strlen(s);
	if (n > 40)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
			return false;
	return true;
}

static int evcheck_string(const char *name, const struct evcheck_at *path, const char *s, char *err,
			  size_t errlen)
{
	if (!s || !s[0])
		return 0;
	if (!http_utf8_valid(s, strlen(s)))
		return evcheck_fail(err, errlen, path, "%s", "not UTF-8");
	if (evcheck_is_time(name)) {
		int64_t ms;
		if (tstamp_parse(s, &ms) != 0 || ms < EVCHECK_MIN_MS || ms >= EVCHECK_MAX_MS)
			return evcheck_fail(err, errlen, path, "'%.60s' is not an RFC 3339 time",
					    s);
	} else if (strcmp(name, "complaint_id") == 0 ||
		   strcmp(name, "previous_complaint_id") == 0) {
		if (!ids_is_uuid(s))
			return evcheck_fail(err, errlen, path, "'%.60s' is not a UUID", s);
	} else if (strcmp(name, "complaint_no") == 0) {
		if (!evcheck_complaint_no(s))
			return evcheck_fail(err, errlen, path, "'%.60s' is not a complaint number",
					    s);
	} else if (strcmp(name, "currency") == 0) {
		if (strlen(s) != 3 || strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 3)
			return evcheck_fail(err, errlen, path, "'%.60s' is not an ISO 4217 code",
					    s);
	}
	return 0;
}

static int evcheck_walk(const ProtobufCMessage *m, const char *prefix, int depth, char *err,
			size_t errlen);

/* One value (element i of a repeated field, or the field itself) at p. */
static int evcheck_value(const ProtobufCFieldDescriptor *f, const void *p,
			 const struct evcheck_at *path, int depth, char *err, size_t errlen)
{
	char num[48];
	long long v, lo, hi;
	switch (f->type) {
	case PROTOBUF_C_TYPE_ENUM: {
		int e = *(const int *)p;
		if (!protobuf_c_enum_descriptor_get_value(f->descriptor, e)) {
			snprintf(num, sizeof(num), "%d", e);
			return evcheck_fail(err, errlen, path, "%s is not a known value", num);
		}
		return 0;
	}
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		v = *(const int32_t *)p;
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		v = *(const uint32_t *)p;
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		v = *(const int64_t *)p;
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		v = *(const uint64_t *)p > INT64_MAX ? -1 : (long long)*(const uint64_t *)p;
		break;
	case PROTOBUF_C_TYPE_DOUBLE:
	case PROTOBUF_C_TYPE_FLOAT: {
		double d = f->type == PROTOBUF_C_TYPE_DOUBLE ? *(const double *)p
							     : (double)*(const float *)p;
		double lim = strcmp(f->name, "lat") == 0   ? 90
			     : strcmp(f->name, "lon") == 0 ? 180
							   : 1e15;
		if (!isfinite(d) || fabs(d) > lim) {
			snprintf(num, sizeof(num), "%g", d);
			return evcheck_fail(err, errlen, path, "%s is out of range", num);
		}
		return 0;
	}
	case PROTOBUF_C_TYPE_STRING:
		return evcheck_string(f->name, path, *(char *const *)p, err, errlen);
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)p;
		char prefix[240];
		if (!sub)
			return 0;
		evcheck_path(path, prefix, sizeof(prefix));
		return evcheck_walk(sub, prefix, depth + 1, err, errlen);
	}
	default: /* bool, bytes */
		return 0;
	}
	evcheck_int_range(f->name, &lo, &hi);
	if (v < lo || v > hi) {
		char what[96];
		snprintf(what, sizeof(what), "%lld is out of range %lld..%lld", v, lo, hi);
		return evcheck_fail(err, errlen, path, "%s", what);
	}
	return 0;
}

static size_t evcheck_size(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_ENUM:
		return 4;
	case PROTOBUF_C_TYPE_FLOAT:
		return sizeof(float);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(void *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	default:
		return 8;
	}
}

static int evcheck_walk(const ProtobufCMessage *m, const char *prefix, int depth, char *err,
			size_t errlen)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	if (depth > 8) { /* the protos nest three deep; deeper is not one of ours */
		const struct evcheck_at here = {"", prefix, -1};
		return evcheck_fail(err, errlen, &here, "%s", "nested too deep");
	}
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *base = (const char *)m + f->offset;
		struct evcheck_at path = {prefix, f->name, -1};
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
			const char *arr = *(const char *const *)base;
			for (size_t j = 0; j < n; j++) {
				path.idx = (long)j;
				if (evcheck_value(f, arr + j * evcheck_size(f->type), &path, depth,
						  err, errlen) != 0)
					return -1;
			}
			continue;
		}
		if (evcheck_value(f, base, &path, depth, err, errlen) != 0)
			return -1;
	}
	return 0;
}

int evcheck_message(const ProtobufCMessage *m, char *err, size_t errlen)
{
	if (errlen)
		err[0] = '\0';
	return evcheck_walk(m, "", 0, err, errlen);
}

int evcheck_bytes(const ProtobufCMessageDescriptor *desc, const void *data, size_t len, char *err,
		  size_t errlen)
{
	ProtobufCMessage *m = protobuf_c_message_unpack(desc, NULL, len, data);
	if (!m) {
		snprintf(err, errlen, "cannot decode %s", desc->name);
		return -1;
	}
	int rc = evcheck_message(m, err, errlen);
	protobuf_c_message_free_unpacked(m, NULL);
	return rc;
}

void evcheck_ids(const ProtobufCMessage *m, const char **id, const char **no)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	const ProtobufCFieldDescriptor *fi = protobuf_c_message_descriptor_get_field_by_name(
					   d, "complaint_id"),
				       *fn = protobuf_c_message_descriptor_get_field_by_name(
					   d, "complaint_no");
	*id = *no = NULL;
	if (!fi || !fn || fi->type != PROTOBUF_C_TYPE_STRING ||
	    fn->type != PROTOBUF_C_TYPE_STRING || fi->label == PROTOBUF_C_LABEL_REPEATED ||
	    fn->label == PROTOBUF_C_LABEL_REPEATED)
		return;
	const char *i = *(char *const *)((const char *)m + fi->offset);
	const char *n = *(char *const *)((const char *)m + fn->offset);
	if (i && i[0] && n && n[0]) {
		*id = i;
		*no = n;
	}
}
