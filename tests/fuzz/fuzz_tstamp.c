/* libFuzzer target: tstamp_parse on any text. A time it accepts must format and parse back to
 * the same instant (a parse that rolls an impossible date over would not). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tstamp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	int64_t ms, again;
	if (tstamp_parse(s, &ms) == 0) {
		char out[TSTAMP_LEN];
		tstamp_format(ms, out);
		/* years beyond 9999 do not fit the format: nothing to compare */
		if (ms >= 0 && ms < 253402300800000LL &&
		    (tstamp_parse(out, &again) != 0 || again != ms))
			abort();
	}
	free(s);
	return 0;
}
