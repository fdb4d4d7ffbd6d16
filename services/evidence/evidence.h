/* The evidence service: ingests the carriers' tracking scans and assembles, for every
 * classified complaint, the evidence bundle and a preliminary responsibility. */
#ifndef CP_EVIDENCE_H
#define CP_EVIDENCE_H

#include "consumer.h"

extern const struct consumer_handler evidence_handlers[];
extern const size_t evidence_nhandlers;

#endif
