/* cp-timer: SLA clocks, warnings, breaches and escalation. */
#include "audit.h"
#include "auth.h"
#include "svc.h"
#include "timer.h"

static const struct cfg_entry timer_table[] = {
    {"SLA_FIRST_RESPONSE_SECONDS", CFG_INT, "180", 1, 86400,
     "first-response clock of a complaint not classified yet (the policy in "
     "cp.complaint.classified replaces it)",
     &timer_cfg.first_response_s},
    {"SLA_ACCEPT_SECONDS", CFG_INT, "300", 1, 604800,
     "accept clock (first offer -> accepted) of a case offered before its classification (the "
     "policy's accept_s replaces it; 0 there: no accept clock)",
     &timer_cfg.accept_s},
    {"SLA_WHOLE_CYCLE_SECONDS", CFG_INT, "86400", 1, 31536000,
     "whole-cycle clock (receipt -> closed) of a complaint not classified yet (the policy's "
     "whole_cycle_s replaces it; 0 there: no whole-cycle clock)",
     &timer_cfg.whole_cycle_s},
    {"SLA_WARN_PERCENT", CFG_INT, "80", 1, 99,
     "a warning event fires at this share of a clock's time (at every escalation level)",
     &timer_cfg.warn_pct},
    {"TIMER_TICK_MS", CFG_INT, "100", 50, 60000, "how often due clocks are looked for",
     &timer_cfg.tick_ms},
    {"TIMER_BATCH", CFG_INT, "1000", 1, 10000, "most clocks fired per transaction",
     &timer_cfg.batch},
    {"TIMER_GAUGE_MS", CFG_INT, "5000", 100, 600000,
     "how often the running/paused clocks gauges are counted", &timer_cfg.gauge_ms},
};

static const struct http_route timer_routes[] = {
    {"GET", "/v1/complaints/{}/clocks", timer_get_clocks, true, AUTH_STAFF},
    {"GET", "/v1/calendars", timer_calendars_list, true, AUTH_SUPERVISORS},
    {"PUT", "/v1/calendars/{}", timer_calendar_put, true, AUTH_ADMIN},
    {"GET", "/v1/admin/audit/timer", audit_http_list, true, AUTH_SUPERVISORS},
};

static const struct svc_task timer_tasks[] = {
    {"fire_due", timer_fire_due, &timer_cfg.tick_ms},
    {"fire_due_spare", timer_fire_spare, &timer_cfg.tick_ms},
    {"clocks_gauge", timer_gauge, &timer_cfg.gauge_ms},
};

int main(int argc, char **argv)
{
	/* an event whose complaint_no belongs to another complaint here is dead-lettered */
	static const struct consumer_ids ids = {"clocks", "complaint_id"};
	const struct svc_def def = {
	    .name = "timer",
	    .ids = &ids,
	    .summary = "keeps every SLA clock and raises warnings, breaches, escalations and clock "
		       "snapshots",
	    .default_port = 8086,
	    .cfg = timer_table,
	    .ncfg = sizeof(timer_table) / sizeof(timer_table[0]),
	    .handlers = timer_handlers,
	    .nhandlers = timer_nhandlers,
	    .sets = timer_set_handlers,
	    .nsets = timer_nset_handlers,
	    .routes = timer_routes,
	    .nroutes = sizeof(timer_routes) / sizeof(timer_routes[0]),
	    .tasks = timer_tasks,
	    .ntasks = sizeof(timer_tasks) / sizeof(timer_tasks[0]),
	};
	return svc_main(argc, argv, &def);
}
