/* CloudEvents 1.0 over Kafka.
 *
 * What we produce is binary mode: the attributes travel as message headers (ce_specversion,
 * ce_id, ce_source, ce_type, ce_time) and the protobuf payload is the value, with content-type
 * application/protobuf. What we accept is what the Kafka protocol binding allows, because
 * carriers produce parcel.tracking.v1 with their own libraries: ce_time is optional,
 * content-type may carry parameters ("application/protobuf; charset=binary"), and structured
 * mode (content-type application/cloudevents+json, the attributes in a JSON envelope whose
 * data_base64 holds the protobuf) is read as well. */
#ifndef CP_CE_H
#define CP_CE_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>

#include "tstamp.h"

#define CE_SPECVERSION		   "1.0"
#define CE_CONTENT_TYPE		   "application/protobuf"
#define CE_CONTENT_TYPE_STRUCTURED "application/cloudevents+json"

struct ce_meta {
	char id[64];
	char source[128];
	char type[96];
	char time[TSTAMP_LEN]; /* "" when the producer sent none (the attribute is optional) */
};

/* The protobuf bytes of an event: the message value itself in binary mode (owned is NULL),
 * a decoded copy of data_base64 in structured mode (owned; ce_data_release frees it). */
struct ce_data {
	const void *ptr;
	size_t len;
	void *owned;
};

/* Adds the CloudEvents headers of m to h. Returns 0 or -1. */
int ce_headers_add(rd_kafka_headers_t *h, const struct ce_meta *m)
    __attribute__((warn_unused_result));

/* True when a content-type value names media_type, ignoring case, blanks and parameters. */
bool ce_content_type_is(const char *value, const char *media_type);

/* Reads and checks the binary-mode CloudEvents headers of a consumed message: id, source and
 * type present, specversion 1.0, content-type application/protobuf (parameters allowed),
 * time in RFC 3339 when present. Returns 0, or -1 with the reason in errstr. */
int ce_headers_read(rd_kafka_headers_t *h, struct ce_meta *m, char *errstr, size_t errlen)
    __attribute__((warn_unused_result));

/* Reads a structured-mode envelope (JSON text of len bytes): the same checks as
 * ce_headers_read, datacontenttype application/protobuf when given, and data_base64 decoded
 * into data (owned). Returns 0, or -1 with the reason in errstr. */
int ce_structured_read(const void *json, size_t len, struct ce_meta *m, struct ce_data *data,
		       char *errstr, size_t errlen) __attribute__((warn_unused_result));

/* Either mode, chosen by the content-type header h carries: structured when it is
 * application/cloudevents+json (payload is the envelope), else binary (payload is the data).
 * Fills m and data (release data with ce_data_release, also after a failure). Returns 0, or
 * -1 with the reason in errstr. */
int ce_event_read(rd_kafka_headers_t *h, const void *payload, size_t len, struct ce_meta *m,
		  struct ce_data *data, char *errstr, size_t errlen)
    __attribute__((warn_unused_result));

/* ce_event_read on a consumed message's headers and value. */
int ce_message_read(const rd_kafka_message_t *msg, struct ce_meta *m, struct ce_data *data,
		    char *errstr, size_t errlen) __attribute__((warn_unused_result));

void ce_data_release(struct ce_data *data);

#endif
