/* cp-followup: notifications to the customer, surveys, closure. */
#include "followup.h"
#include "svc.h"

int main(int argc, char **argv)
{
	const struct svc_def def = {
	    .name = "followup",
	    .summary = "keeps the customer informed at every step until they confirm",
	    .default_port = 8085,
	    .handlers = followup_handlers,
	    .nhandlers = followup_nhandlers,
	};
	return svc_main(argc, argv, &def);
}
