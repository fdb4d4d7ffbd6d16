/* libFuzzer target: the CloudEvents reader (binary-mode headers and the structured-mode JSON
 * envelope). Input: a count byte, then that many headers as (name length, name, value length,
 * value), then the payload. */
#include <librdkafka/rdkafka.h>
#include <stdint.h>
#include <string.h>

#include "ce.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t pos = 0;
	if (size < 1)
		return 0;
	int n = data[pos++] % 10;
	rd_kafka_headers_t *h = rd_kafka_headers_new(8);
	for (int i = 0; i < n; i++) {
		if (pos >= size)
			break;
		size_t nl = data[pos++];
		if (pos + nl > size)
			break;
		char name[256];
		memcpy(name, data + pos, nl);
		name[nl] = '\0';
		pos += nl;
		if (pos >= size)
			break;
		size_t vl = data[pos++];
		if (pos + vl > size)
			break;
		rd_kafka_header_add(h, name, -1, data + pos, (ssize_t)vl);
		pos += vl;
	}
	struct ce_meta m;
	struct ce_data d = {0};
	char err[256];
	if (ce_event_read(h, data + pos, size - pos, &m, &d, err, sizeof(err)) == 0) {
		/* what was accepted is NUL-terminated and non-empty */
		if (!m.id[0] || !m.source[0] || !m.type[0] || strlen(m.id) >= sizeof(m.id))
			__builtin_trap();
	}
	ce_data_release(&d);
	rd_kafka_headers_destroy(h);
	return 0;
}
