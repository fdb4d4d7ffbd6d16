/* The follow-up service: keeps the customer informed until they confirm. */
#ifndef CP_FOLLOWUP_H
#define CP_FOLLOWUP_H

#include "consumer.h"

extern const struct consumer_handler followup_handlers[];
extern const size_t followup_nhandlers;

#endif
