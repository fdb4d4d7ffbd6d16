/* Firing due clocks. Due rows are claimed FOR UPDATE SKIP LOCKED and changed in the same
 * transaction as the outbox rows announcing them (breaches as one set per batch), so several timer
 * instances never fire one clock twice, and a timer that was down fires everything that fell due at
 * its first tick. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "metrics.h"
#include "outbox.h"
#include "pg.h"
#include "sla.h"
#include "sla.pb-c.h"
#include "timer.h"
#include "topics.h"
#include "tstamp.h"

// clang-format off
#define MS(col) "(extract(epoch FROM " col ") * 1000)::bigint"
#define DUE_COLUMNS                                                                         \
	"complaint_id::text, clock, complaint_no, " MS("due_at") ", escalation_level, "      \
	"duration_s, " MS("now()")
// clang-format on

enum { COL_ID, COL_CLOCK, COL_NO, COL_DUE, COL_LEVEL, COL_DURATION, COL_NOW };

/* Counts per clock of one transaction, added to the metrics only after COMMIT. */
struct fire_counts {
	int warnings[SLA_NCLOCKS];
	int breaches[SLA_NCLOCKS];
};

struct announcement {
	const char *kind; /* warning, breach */
	int level;
	int64_t due_ms;
	int64_t next_due_ms; /* 0: none (warning, or the ladder is exhausted) */
};

static int announce(PGconn *pg, PGresult *r, int row, const struct announcement *a)
{
	Cp__SlaEvent ev = CP__SLA_EVENT__INIT;
	char now[TSTAMP_LEN], due[TSTAMP_LEN], next[TSTAMP_LEN] = "";
	bool breach = strcmp(a->kind, "breach") == 0;
	tstamp_format(tstamp_now_ms(), now);
	tstamp_format(a->due_ms, due);
	if (a->next_due_ms)
		tstamp_format(a->next_due_ms, next);
	ev.complaint_id = PQgetvalue(r, row, COL_ID);
	ev.clock = PQgetvalue(r, row, COL_CLOCK);
	ev.complaint_no = PQgetvalue(r, row, COL_NO);
	ev.due_at = due;
	ev.kind = (char *)a->kind;
	ev.escalation_level = a->level;
	ev.escalated_to = (char *)sla_level_name(a->level);
	ev.fired_at = now;
	ev.next_due_at = next;
	ev.duration_s = atoi(PQgetvalue(r, row, COL_DURATION));
	log_msg(LOG_WARN, breach ? "sla_breach" : "sla_warning",
		LOG_KV({"complaint_no", ev.complaint_no}, {"clock", ev.clock},
		       {"escalated_to", ev.escalated_to}),
		"%s clock %s at level %d", ev.clock, a->kind, a->level);
	return outbox_add(pg, TOPIC_SLA, ev.complaint_id,
			  breach ? "cp.complaint.sla_breached" : "cp.complaint.sla_warning",
			  &ev.base, NULL);
}

static void count(int *per_clock, const char *clock)
{
	int i = sla_clock_index(clock);
	if (i >= 0)
		per_clock[i]++;
}

static int warn_one(PGconn *pg, PGresult *r, int row, struct fire_counts *n)
{
	const char *u[] = {PQgetvalue(r, row, COL_ID), PQgetvalue(r, row, COL_CLOCK)};
	if (pg_exec(pg,
		    "UPDATE clocks SET warned = true WHERE complaint_id = $1::uuid AND clock = $2",
		    2, u) != 0)
		return -1;
	struct announcement a = {"warning", atoi(PQgetvalue(r, row, COL_LEVEL)),
				 atoll(PQgetvalue(r, row, COL_DUE)), 0};
	count(n->warnings, PQgetvalue(r, row, COL_CLOCK));
	return announce(pg, r, row, &a);
}

static int fire_warnings(PGconn *pg, const char *limit, struct fire_counts *n)
{
	const char *p[] = {limit};
	PGresult *r = pg_query(pg,
			       "SELECT " DUE_COLUMNS " FROM clocks WHERE state = 'running' AND NOT "
			       "warned AND warn_at <= now() AND due_at > now() ORDER BY warn_at "
			       "LIMIT $1::int FOR UPDATE SKIP LOCKED",
			       1, p);
	if (!r)
		return -1;
	int rows = PQntuples(r), rc = 0;
	for (int i = 0; i < rows && rc == 0; i++)
		rc = warn_one(pg, r, i, n);
	PQclear(r);
	return rc == 0 ? rows : -1;
}

/* A breach escalates one level and re-arms the clock from now for the next level (on its own
 * calendar: a working-time clock re-arms for working time); at HQ the ladder is exhausted and
 * the clock stays breached. The batch's due clocks fire as one set (clocks_breach_due: one
 * claim, one update, one insert of the events), so a storm of clocks falling due at once
 * (after an outage, a regional typhoon) costs a few statements per batch, not five per clock. */
static int fire_breaches(PGconn *pg, const char *limit, struct fire_counts *n)
{
	return clocks_breach_due(pg, atoi(limit), n->breaches);
}

static void count_metrics(const struct fire_counts *n)
{
	char labels[64];
	for (int i = 0; i < SLA_NCLOCKS; i++) {
		snprintf(labels, sizeof(labels), "clock=\"%s\"", sla_clock_names[i]);
		if (n->warnings[i])
			metrics_add(metrics_counter("cp_sla_warnings_total",
						    "SLA warnings fired, by clock.", labels),
				    n->warnings[i]);
		if (n->breaches[i])
			metrics_add(metrics_counter("cp_sla_breaches_total",
						    "SLA breaches fired, by clock.", labels),
				    n->breaches[i]);
	}
}

/* One firing transaction: due warnings, then due breaches. Returns the larger of the two
 * counts, or -1 (rolled back). */
static int fire_batch(PGconn *pg)
{
	struct fire_counts n;
	char limit[16];
	memset(&n, 0, sizeof(n));
	snprintf(limit, sizeof(limit), "%lld", timer_cfg.batch);
	if (pg_begin(pg) != 0)
		return -1;
	/* The set update joins a batch's unnest()ed clocks to the table. Planned for its values
	 * (the first five executions of a prepared statement), a batch of 1,000 looked cheaper as
	 * a hash join over every clock row (EXPLAIN ANALYZE on 100,000 clocks: 150 ms building the
	 * hash) than as 1,000 primary-key probes (22 ms); the generic plan probes the key. */
	int w = pg_exec(pg, "SET LOCAL plan_cache_mode = force_generic_plan", 0, NULL) != 0
		    ? -1
		    : fire_warnings(pg, limit, &n);
	int b = w < 0 ? -1 : fire_breaches(pg, limit, &n);
	if (b < 0 || pg_commit(pg) != 0) {
		pg_rollback(pg);
		return -1;
	}
	count_metrics(&n);
	return w > b ? w : b;
}

/* Milliseconds until the next clock falls due or reaches its warning time (negative: one is
 * due already, a large value when none runs); both minima come from their partial indexes. */
static int fire_next_ms(PGconn *pg, long long *ms)
{
	PGresult *r = pg_query(pg,
			       "SELECT coalesce((extract(epoch FROM least((SELECT min(due_at) FROM "
			       "clocks WHERE state = 'running'), (SELECT min(warn_at) FROM clocks "
			       "WHERE state = 'running' AND NOT warned)) - clock_timestamp()) * "
			       "1000)::bigint, 86400000)",
			       0, NULL);
	if (!r)
		return -1;
	*ms = atoll(PQgetvalue(r, 0, 0));
	PQclear(r);
	return 0;
}

static void fire_sleep_ms(long long ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0)
		;
}

/* Set while the main firing task finds full batches (a storm: many clocks due at once); the
 * spare task fires only then. */
static atomic_bool fire_storm;

int timer_fire_due(PGconn *pg, void *arg)
{
	int fired = fire_batch(pg);
	if (fired < 0)
		return -1;
	atomic_store(&fire_storm, fired >= timer_cfg.batch);
	if (fired >= timer_cfg.batch)
		return 1;
	/* Waiting a whole tick made a clock up to TIMER_TICK_MS late (p99 just over 100 ms in
	 * steady state); when the next clock falls due within the tick, this task's thread sleeps
	 * until then (+1 ms, so it is due by the database's clock too) and fires it. The thread is
	 * the task's own and the sleep is shorter than a tick, so shutdown waits no longer than it
	 * did. A clock created meanwhile with an earlier due time still waits at most a tick. */
	long long next;
	if (fire_next_ms(pg, &next) != 0)
		return -1;
	if (next >= timer_cfg.tick_ms)
		return 0;
	/* next <= 0: a clock fell due while this round ran (after its now()), or another
	 * instance holds it; look again at once, or after 10 ms when this round fired nothing,
	 * so a clock held elsewhere is not polled in a tight loop */
	if (next > 0)
		fire_sleep_ms(next + 1);
	else if (fired == 0)
		fire_sleep_ms(10);
	return 1;
}

/* A storm (100,000 clocks due after an outage or a typhoon's delays) is fired by two
 * transactions at a time: FOR UPDATE SKIP LOCKED gives each its own clocks, as it does for two
 * timer instances, and the storm gets a second core's share while the relay and the services
 * consuming its events compete for the machine. Idle otherwise: no second poll of the table
 * in steady state. */
int timer_fire_spare(PGconn *pg, void *arg)
{
	if (!atomic_load(&fire_storm))
		return 0;
	int fired = fire_batch(pg);
	if (fired < 0)
		return -1;
	return fired >= timer_cfg.batch ? 1 : 0;
}

int timer_gauge(PGconn *pg, void *arg)
{
	PGresult *r = pg_query(pg,
			       "SELECT clock, count(*) FILTER (WHERE state = 'running'), count(*) "
			       "FILTER (WHERE state = 'paused') FROM clocks WHERE state IN "
			       "('running', 'paused') GROUP BY clock",
			       0, NULL);
	if (!r)
		return -1;
	int64_t running[SLA_NCLOCKS] = {0}, paused[SLA_NCLOCKS] = {0};
	for (int i = 0; i < PQntuples(r); i++) {
		int k = sla_clock_index(PQgetvalue(r, i, 0));
		if (k >= 0) {
			running[k] = atoll(PQgetvalue(r, i, 1));
			paused[k] = atoll(PQgetvalue(r, i, 2));
		}
	}
	PQclear(r);
	char labels[64];
	for (int i = 0; i < SLA_NCLOCKS; i++) {
		snprintf(labels, sizeof(labels), "clock=\"%s\"", sla_clock_names[i]);
		metrics_set(
		    metrics_gauge("cp_sla_clocks_running", "SLA clocks running, by clock.", labels),
		    (double)running[i]);
		metrics_set(
		    metrics_gauge("cp_sla_clocks_paused",
				  "SLA clocks paused while waiting on the customer, by clock.",
				  labels),
		    (double)paused[i]);
	}
	return 0;
}
