/* The resolution service: the remedy and compensation for each verified complaint. */
#ifndef CP_RESOLUTION_H
#define CP_RESOLUTION_H

#include "consumer.h"

extern const struct consumer_handler resolution_handlers[];
extern const size_t resolution_nhandlers;

#endif
