/* libFuzzer target: decode any bytes as one of the event types (chosen by the first byte) and
 * run the semantic validation every consumer applies (evcheck). */
#include <stdint.h>

#include "classification.pb-c.h"
#include "evcheck.h"
#include "evidence.pb-c.h"
#include "followup.pb-c.h"
#include "intake.pb-c.h"
#include "resolution.pb-c.h"
#include "sla.pb-c.h"
#include "tracking.pb-c.h"

static const ProtobufCMessageDescriptor *const fuzz_types[] = {
    &cp__complaint_received__descriptor,   &cp__complaint_message_added__descriptor,
    &cp__complaint_classified__descriptor, &cp__complaint_assignment__descriptor,
    &cp__first_response__descriptor,	   &cp__evidence_bundle__descriptor,
    &cp__evidence_request__descriptor,	   &cp__resolution_decided__descriptor,
    &cp__execution_request__descriptor,	   &cp__execution_result__descriptor,
    &cp__followup_event__descriptor,	   &cp__sla_event__descriptor,
    &cp__tracking_event__descriptor,	   &cp__parcel_exception__descriptor,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	if (size < 1)
		return 0;
	const ProtobufCMessageDescriptor *d =
	    fuzz_types[data[0] % (sizeof(fuzz_types) / sizeof(fuzz_types[0]))];
	(void)!evcheck_bytes(d, data + 1, size - 1, err, sizeof(err));
	return 0;
}
