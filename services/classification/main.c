/* cp-classification: classifies complaints, picks their SLA policy, routes them to staff
 * and sends the automatic first response. */
#include "classification.h"
#include "svc.h"

struct classification_config classification_cfg;

static const struct cfg_entry classification_table[] = {
    {"SLA_FIRST_RESPONSE_SECONDS", CFG_INT, "180", 1, 86400,
     "default policy: first response to the customer", &classification_cfg.first_response_s},
    {"SLA_VERIFICATION_SECONDS", CFG_INT, "1800", 1, 604800,
     "default policy: facts verified, root cause located", &classification_cfg.verification_s},
    {"SLA_RESOLUTION_SECONDS", CFG_INT, "86400", 1, 2592000,
     "default policy: whole cycle until the customer confirms",
     &classification_cfg.resolution_s},
    {"SLA_REGULATORY_SECONDS", CFG_INT, "604800", 1, 2592000,
     "regulatory limit to finish handling (7 days; 15 or 30 where rules say so)",
     &classification_cfg.regulatory_s},
    {"NEXT_UPDATE_SECONDS", CFG_INT, "300", 1, 86400,
     "the first response promises the next update within this time",
     &classification_cfg.next_update_s},
};

int main(int argc, char **argv)
{
	const struct svc_def def = {
	    .name = "classification",
	    .summary = "classifies complaints, applies SLA policies, routes to staff, answers first",
	    .default_port = 8082,
	    .cfg = classification_table,
	    .ncfg = sizeof(classification_table) / sizeof(classification_table[0]),
	    .handlers = classification_handlers,
	    .nhandlers = classification_nhandlers,
	};
	return svc_main(argc, argv, &def);
}
