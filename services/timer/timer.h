/* The timer service: SLA clocks in PostgreSQL, warning and breach events, escalation. */
#ifndef CP_TIMER_H
#define CP_TIMER_H

#include <libpq-fe.h>

#include "consumer.h"

struct timer_config {
	long long first_response_s;
	long long warn_pct;
	long long tick_ms;
	long long batch;
};
extern struct timer_config timer_cfg;

/* 0 agent, 1 outlet manager, 2 regional supervisor, 3 HQ. */
const char *timer_level_name(int level);

/* Periodic task: fires due warnings and breaches. Returns how many fired, -1 on error. */
int timer_fire_due(PGconn *c, void *arg);

extern const struct consumer_handler timer_handlers[];
extern const size_t timer_nhandlers;

#endif
