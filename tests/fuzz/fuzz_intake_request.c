/* libFuzzer target: the complaint request validators (intake_parse on any JSON, the waybill
 * and phone checks) and the redaction of what they accept. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "intake/intake.h"

struct intake_config intake_cfg; /* main.c is not linked */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct intake_input in; /* large: not on the stack */
	static char out[INTAKE_DESCRIPTION_MAX * 4 + 64];
	json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (body) {
		json_t *errors = json_array();
		if (intake_parse(body, &in, errors))
			intake_redact(in.description, in.name, out, sizeof(out));
		json_decref(errors);
		json_decref(body);
	}
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	(void)intake_waybill_valid(s);
	(void)intake_phone_valid(s);
	intake_redact(s, "王小明", out, sizeof(out));
	free(s);
	return 0;
}
