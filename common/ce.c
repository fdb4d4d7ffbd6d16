#include "ce.h"

#include <ctype.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int ce_headers_add(rd_kafka_headers_t *h, const struct ce_meta *m)
{
	const char *const kv[][2] = {
	    {"ce_specversion", CE_SPECVERSION},
	    {"ce_id", m->id},
	    {"ce_source", m->source},
	    {"ce_type", m->type},
	    {"ce_time", m->time},
	    {"content-type", CE_CONTENT_TYPE},
	};
	for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
		if (rd_kafka_header_add(h, kv[i][0], -1, kv[i][1], -1) !=
		    RD_KAFKA_RESP_ERR_NO_ERROR)
			return -1;
	return 0;
}

bool ce_content_type_is(const char *value, const char *media_type)
{
	while (*value == ' ' || *value == '\t')
		value++;
	size_t n = strcspn(value, ";");
	while (n > 0 && (value[n - 1] == ' ' || value[n - 1] == '\t'))
		n--;
	return n == strlen(media_type) && strncasecmp(value, media_type, n) == 0;
}

/* 1 found, 0 absent, -1 malformed (errstr filled). */
static int ce_get(rd_kafka_headers_t *h, const char *name, char *out, size_t cap, char *errstr,
		  size_t errlen)
{
	const void *val = NULL;
	size_t size = 0;
	out[0] = '\0';
	if (!h || rd_kafka_header_get_last(h, name, &val, &size) != RD_KAFKA_RESP_ERR_NO_ERROR ||
	    !val || size == 0)
		return 0;
	if (size >= cap || memchr(val, '\0', size)) {
		snprintf(errstr, errlen, "header %s is malformed", name);
		return -1;
	}
	memcpy(out, val, size);
	out[size] = '\0';
	return 1;
}

static int ce_require(rd_kafka_headers_t *h, const char *name, char *out, size_t cap, char *errstr,
		      size_t errlen)
{
	int rc = ce_get(h, name, out, cap, errstr, errlen);
	if (rc == 0)
		snprintf(errstr, errlen, "missing header %s", name);
	return rc == 1 ? 0 : -1;
}

/* The checks both modes share, on attributes already copied into m. */
static int ce_check(const char *spec, const struct ce_meta *m, char *errstr, size_t errlen)
{
	int64_t ms;
	if (strcmp(spec, CE_SPECVERSION) != 0) {
		snprintf(errstr, errlen, "unsupported ce_specversion %s", spec);
		return -1;
	}
	if (m->time[0] && tstamp_parse(m->time, &ms) != 0) {
		snprintf(errstr, errlen, "ce_time is not RFC 3339");
		return -1;
	}
	return 0;
}

int ce_headers_read(rd_kafka_headers_t *h, struct ce_meta *m, char *errstr, size_t errlen)
{
	char spec[16], ctype[128];
	if (ce_require(h, "ce_specversion", spec, sizeof(spec), errstr, errlen) ||
	    ce_require(h, "ce_id", m->id, sizeof(m->id), errstr, errlen) ||
	    ce_require(h, "ce_source", m->source, sizeof(m->source), errstr, errlen) ||
	    ce_require(h, "ce_type", m->type, sizeof(m->type), errstr, errlen) ||
	    ce_get(h, "ce_time", m->time, sizeof(m->time), errstr, errlen) < 0 ||
	    ce_require(h, "content-type", ctype, sizeof(ctype), errstr, errlen))
		return -1;
	if (!ce_content_type_is(ctype, CE_CONTENT_TYPE)) {
		snprintf(errstr, errlen, "unsupported content-type %s", ctype);
		return -1;
	}
	return ce_check(spec, m, errstr, errlen);
}

/* Copies the string attribute key of the envelope; 1 copied, 0 absent, -1 wrong. */
static int ce_attr(const json_t *env, const char *key, char *out, size_t cap, char *errstr,
		   size_t errlen)
{
	const json_t *v = json_object_get(env, key);
	out[0] = '\0';
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) >= cap ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		snprintf(errstr, errlen, "attribute %s is malformed", key);
		return -1;
	}
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 1;
}

static int ce_attr_required(const json_t *env, const char *key, char *out, size_t cap, char *errstr,
			    size_t errlen)
{
	int rc = ce_attr(env, key, out, cap, errstr, errlen);
	if (rc == 0)
		snprintf(errstr, errlen, "missing attribute %s", key);
	return rc == 1 ? 0 : -1;
}

static int ce_base64(const char *text, size_t len, struct ce_data *data)
{
	unsigned char *out = malloc(len / 4 * 3 + 4);
	EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
	int n = 0, tail = 0;
	int rc = out && ctx ? 0 : -1;
	if (rc == 0) {
		EVP_DecodeInit(ctx);
		rc = EVP_DecodeUpdate(ctx, out, &n, (const unsigned char *)text, (int)len) < 0 ||
			     EVP_DecodeFinal(ctx, out + n, &tail) != 1
			 ? -1
			 : 0;
	}
	EVP_ENCODE_CTX_free(ctx);
	if (rc != 0) {
		free(out);
		return -1;
	}
	data->owned = out;
	data->ptr = out;
	data->len = (size_t)(n + tail);
	return 0;
}

static int ce_envelope(const json_t *env, struct ce_meta *m, struct ce_data *data, char *errstr,
		       size_t errlen)
{
	char spec[16], ctype[128];
	if (!json_is_object(env)) {
		snprintf(errstr, errlen, "structured event is not a JSON object");
		return -1;
	}
	if (ce_attr_required(env, "specversion", spec, sizeof(spec), errstr, errlen) ||
	    ce_attr_required(env, "id", m->id, sizeof(m->id), errstr, errlen) ||
	    ce_attr_required(env, "source", m->source, sizeof(m->source), errstr, errlen) ||
	    ce_attr_required(env, "type", m->type, sizeof(m->type), errstr, errlen) ||
	    ce_attr(env, "time", m->time, sizeof(m->time), errstr, errlen) < 0 ||
	    ce_attr(env, "datacontenttype", ctype, sizeof(ctype), errstr, errlen) < 0 ||
	    ce_check(spec, m, errstr, errlen) != 0)
		return -1;
	if (ctype[0] && !ce_content_type_is(ctype, CE_CONTENT_TYPE)) {
		snprintf(errstr, errlen, "unsupported datacontenttype %s", ctype);
		return -1;
	}
	const json_t *b64 = json_object_get(env, "data_base64");
	if (!json_is_string(b64)) {
		snprintf(errstr, errlen, "structured event has no data_base64 (protobuf) member");
		return -1;
	}
	if (ce_base64(json_string_value(b64), json_string_length(b64), data) != 0) {
		snprintf(errstr, errlen, "data_base64 is not base64");
		return -1;
	}
	return 0;
}

int ce_structured_read(const void *json, size_t len, struct ce_meta *m, struct ce_data *data,
		       char *errstr, size_t errlen)
{
	json_error_t jerr;
	memset(data, 0, sizeof(*data));
	json_t *env = json ? json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
	if (!env) {
		snprintf(errstr, errlen, "structured event is not JSON");
		return -1;
	}
	int rc = ce_envelope(env, m, data, errstr, errlen);
	json_decref(env);
	return rc;
}

int ce_event_read(rd_kafka_headers_t *h, const void *payload, size_t len, struct ce_meta *m,
		  struct ce_data *data, char *errstr, size_t errlen)
{
	char ctype[128] = "";
	memset(data, 0, sizeof(*data));
	if (ce_get(h, "content-type", ctype, sizeof(ctype), errstr, errlen) == 1 &&
	    ce_content_type_is(ctype, CE_CONTENT_TYPE_STRUCTURED))
		return ce_structured_read(payload, len, m, data, errstr, errlen);
	if (ce_headers_read(h, m, errstr, errlen) != 0)
		return -1;
	data->ptr = payload;
	data->len = len;
	return 0;
}

int ce_message_read(const rd_kafka_message_t *msg, struct ce_meta *m, struct ce_data *data,
		    char *errstr, size_t errlen)
{
	rd_kafka_headers_t *h = NULL;
	if (rd_kafka_message_headers(msg, &h) != RD_KAFKA_RESP_ERR_NO_ERROR)
		h = NULL;
	return ce_event_read(h, msg->payload, msg->len, m, data, errstr, errlen);
}

void ce_data_release(struct ce_data *data)
{
	free(data->owned);
	memset(data, 0, sizeof(*data));
}
