/* cp-resolution: remedies, compensation, approvals and their execution. */
#include "resolution.h"
#include "svc.h"

int main(int argc, char **argv)
{
	const struct svc_def def = {
	    .name = "resolution",
	    .summary = "proposes remedies and compensation, gets them approved and executed",
	    .default_port = 8084,
	    .handlers = resolution_handlers,
	    .nhandlers = resolution_nhandlers,
	};
	return svc_main(argc, argv, &def);
}
