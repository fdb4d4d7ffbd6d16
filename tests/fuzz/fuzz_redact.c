/* libFuzzer target: redaction of free text (common/redact.c). Whatever the text, the output is
 * NUL-terminated within its buffer, stays well-formed UTF-8 when the input was, and holds no
 * run of seven ASCII digits (a phone number would be one). The first byte picks the buffer
 * size, so cutting is exercised too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "httpd.h"
#include "redact.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t cap = 1 + data[0] * 8;
	char *text = malloc(size), *out = malloc(cap);
	if (!text || !out) {
		free(text);
		free(out);
		return 0;
	}
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	redact_text(text, "王小明", "[phone]", out, cap);
	size_t n = strnlen(out, cap);
	if (n >= cap)
		abort();
	if (http_utf8_valid(text, strlen(text)) && !http_utf8_valid(out, n))
		abort();
	for (size_t i = 0, run = 0; i < n; i++) {
		run = out[i] >= '0' && out[i] <= '9' ? run + 1 : 0;
		if (run >= 7)
			abort();
	}
	free(text);
	free(out);
	return 0;
}
