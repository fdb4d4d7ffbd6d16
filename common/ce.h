/* CloudEvents 1.0 in Kafka binary mode: the attributes travel as message headers
 * (ce_specversion, ce_id, ce_source, ce_type, ce_time) and the protobuf payload is the value,
 * with content-type application/protobuf. */
#ifndef CP_CE_H
#define CP_CE_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

#include "tstamp.h"

#define CE_SPECVERSION	"1.0"
#define CE_CONTENT_TYPE "application/protobuf"

struct ce_meta {
	char id[64];
	char source[128];
	char type[96];
	char time[TSTAMP_LEN];
};

/* Adds the CloudEvents headers of m to h. Returns 0 or -1. */
int ce_headers_add(rd_kafka_headers_t *h, const struct ce_meta *m)
    __attribute__((warn_unused_result));

/* Reads and checks the CloudEvents headers of a consumed message: every required attribute
 * present, specversion 1.0, content-type application/protobuf, time in RFC 3339.
 * Returns 0, or -1 with the reason in errstr. */
int ce_headers_read(rd_kafka_headers_t *h, struct ce_meta *m, char *errstr, size_t errlen)
    __attribute__((warn_unused_result));

#endif
