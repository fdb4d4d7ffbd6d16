/* The classification service: category, urgency, priority, SLA policy and the automatic
 * first response for every complaint received. */
#ifndef CP_CLASSIFICATION_H
#define CP_CLASSIFICATION_H

#include <stddef.h>

#include "consumer.h"
#include "intake.pb-c.h"

struct classification_config {
	long long first_response_s;
	long long verification_s;
	long long resolution_s;
	long long regulatory_s;
	long long next_update_s;
};
extern struct classification_config classification_cfg;

struct classify_result {
	char category[24];
	char subcategory[32];
	char urgency[16];
	char severity[12];
	char tier[12];
	int priority;
	char reason[256];
	char scenario[16];
};

/* Pure: decides from the received complaint. */
void classify_complaint(const Cp__ComplaintReceived *c, struct classify_result *out);

/* Pure: the first-response text for a scenario and language. out must hold cap bytes. */
void classify_first_response(const char *scenario, const char *language,
			     const char *complaint_no, const char *waybill_no,
			     const char *next_update_by, char *out, size_t cap);

extern const struct consumer_handler classification_handlers[];
extern const size_t classification_nhandlers;

#endif
