#include "ce.h"

#include <stdio.h>
#include <string.h>

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

static int ce_get(rd_kafka_headers_t *h, const char *name, char *out, size_t cap, char *errstr,
		  size_t errlen)
{
	const void *val = NULL;
	size_t size = 0;
	if (!h || rd_kafka_header_get_last(h, name, &val, &size) != RD_KAFKA_RESP_ERR_NO_ERROR ||
	    !val || size == 0) {
		snprintf(errstr, errlen, "missing header %s", name);
		return -1;
	}
	if (size >= cap || memchr(val, '\0', size)) {
		snprintf(errstr, errlen, "header %s is malformed", name);
		return -1;
	}
	memcpy(out, val, size);
	out[size] = '\0';
	return 0;
}

int ce_headers_read(rd_kafka_headers_t *h, struct ce_meta *m, char *errstr, size_t errlen)
{
	char spec[16], ctype[64];
	int64_t ms;
	if (ce_get(h, "ce_specversion", spec, sizeof(spec), errstr, errlen) ||
	    ce_get(h, "ce_id", m->id, sizeof(m->id), errstr, errlen) ||
	    ce_get(h, "ce_source", m->source, sizeof(m->source), errstr, errlen) ||
	    ce_get(h, "ce_type", m->type, sizeof(m->type), errstr, errlen) ||
	    ce_get(h, "ce_time", m->time, sizeof(m->time), errstr, errlen) ||
	    ce_get(h, "content-type", ctype, sizeof(ctype), errstr, errlen))
		return -1;
	if (strcmp(spec, CE_SPECVERSION) != 0) {
		snprintf(errstr, errlen, "unsupported ce_specversion %s", spec);
		return -1;
	}
	if (strcmp(ctype, CE_CONTENT_TYPE) != 0) {
		snprintf(errstr, errlen, "unsupported content-type %s", ctype);
		return -1;
	}
	if (tstamp_parse(m->time, &ms) != 0) {
		snprintf(errstr, errlen, "ce_time is not RFC 3339");
		return -1;
	}
	return 0;
}
