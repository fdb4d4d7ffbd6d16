/* cp-evidence: tracking ingest and the evidence behind every complaint. */
#include "evidence.h"
#include "svc.h"

int main(int argc, char **argv)
{
	const struct svc_def def = {
	    .name = "evidence",
	    .summary = "ingests parcel-tracking scans and gathers the evidence for each complaint",
	    .default_port = 8083,
	    .handlers = evidence_handlers,
	    .nhandlers = evidence_nhandlers,
	};
	return svc_main(argc, argv, &def);
}
