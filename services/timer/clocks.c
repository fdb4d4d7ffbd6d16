/* The clock rows of one complaint. The case row (cases) remembers what the timer knows of the
 * complaint and the stops table every stop it has seen; each change loads the case and its
 * clocks into an `op`, applies the pure transitions of sla.c in memory, then writes back the
 * clocks that changed and announces each as cp.complaint.clock_changed in the same
 * transaction. So events may come in any order: a clock created after its stop starts
 * stopped, one created while the case waits on the customer starts paused. Times cross the
 * SQL boundary as milliseconds since the epoch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "outbox.h"
#include "pg.h"
#include "sla.pb-c.h"
#include "timer.h"
#include "topics.h"
#include "tstamp.h"

/* The statements below splice the TS()/MS() macros into SQL text, which clang-format cannot lay
 * out readably: this file is formatted by hand. */
// clang-format off
struct timer_config timer_cfg;

#define TS(n) "to_timestamp($" #n "::bigint / 1000.0)"
#define MS(col) "(extract(epoch FROM " col ") * 1000)::bigint"

/* How a clock row and a case's receipt meet the row already there, shared by each one-event
 * statement and its set twin, which must store the same (test_complaint_set_apply.py). */
#define CLOCK_UPSERT                                                                           \
	"ON CONFLICT (complaint_id, clock) DO UPDATE SET complaint_no = excluded.complaint_no, "\
	"state = excluded.state, duration_s = excluded.duration_s, escalation_level = "        \
	"excluded.escalation_level, warned = excluded.warned, pausable = excluded.pausable, "  \
	"calendar = excluded.calendar, stopped_by = excluded.stopped_by, started_at = "        \
	"excluded.started_at, counted_from = excluded.counted_from, used_ms = "                \
	"excluded.used_ms, level_base_ms = excluded.level_base_ms, paused_at = "               \
	"excluded.paused_at, paused_ms = excluded.paused_ms, stopped_at = excluded.stopped_at, "\
	"due_at = excluded.due_at, warn_at = excluded.warn_at"
#define CASE_RECEIVED_UPSERT                                                                   \
	"ON CONFLICT (complaint_id) DO UPDATE SET complaint_no = excluded.complaint_no, "      \
	"received_at = coalesce(cases.received_at, excluded.received_at), updated_at = now()"

#define CLOSED_BY "cp.complaint.closed"

struct case_row {
	bool found;
	char no[64];
	bool has_start;
	int64_t start_ms; /* received_at, or classified_at while the receipt is unknown */
	bool has_offer;
	int64_t offered_ms;
	bool awaiting;
	int64_t awaiting_ms;
	char owner[64]; /* "" while nobody owns the case */
	struct sla_policy policy;
	char pausable[256]; /* comma-separated */
	char working[256];
	char calendar[64];
};

struct clock_row {
	bool exists;
	struct sla_clock c;
	bool pausable;
	char calendar[64]; /* "" for calendar time */
	char stopped_by[64];
	char no[64];
};

struct stop_row {
	bool seen;
	int64_t at_ms;
	char by[64];
};

/* One change to one complaint's clocks: loaded, changed in memory, written and announced. */
struct op {
	PGconn *pg;
	const char *id;
	struct case_row k;
	struct clock_row before[SLA_NCLOCKS];
	struct clock_row rows[SLA_NCLOCKS];
	struct stop_row stops[SLA_NCLOCKS];
	struct timer_calendars cals;
	int64_t replan_ms; /* when a new policy took effect (0: now) */
};

static void ms_text(int64_t ms, char out[24])
{
	snprintf(out, 24, "%lld", (long long)ms);
}

/* A clock's eleven numbers as text for a set statement's columns, in the order both the fire
 * update and the clocks upsert bind them: duration, level, started, counted from, used, level
 * base, paused at, paused, stopped, due, warn. */
static void clock_num_text(const struct sla_clock *c, char (*num)[24])
{
	snprintf(num[0], 24, "%lld", (long long)c->duration_s);
	snprintf(num[1], 24, "%d", c->level);
	const int64_t ms[] = {c->started_ms,   c->counted_from_ms, c->used_ms, c->level_base_ms,
			      c->paused_at_ms, c->paused_ms,	   c->stopped_ms, c->t.due_ms,
			      c->t.warn_ms};
	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++)
		ms_text(ms[i], num[2 + i]);
}

static int64_t col_ms(PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 : atoll(PQgetvalue(r, row, col));
}

static bool in_list(const char *csv, const char *clock,
		    bool (*rule)(const char *, const char *const *, size_t))
{
	char buf[256], *save = NULL;
	const char *names[SLA_NCLOCKS];
	size_t n = 0;
	snprintf(buf, sizeof(buf), "%s", csv);
	for (char *t = strtok_r(buf, ",", &save); t && n < SLA_NCLOCKS;
	     t = strtok_r(NULL, ",", &save))
		names[n++] = t;
	return rule(clock, names, n);
}

/* ---- loading ---- */

/* The columns case_parse reads, in its order (the sets add the op's ordinal after them). */
#define CASE_COLUMNS                                                                        \
	"complaint_no, " MS("coalesce(received_at, classified_at)") ", classified, "           \
	"first_response_s, verification_s, resolution_s, regulatory_s, accept_s, "             \
	"whole_cycle_s, array_to_string(pausable_clocks, ','), "                               \
	"array_to_string(working_time_clocks, ','), calendar, " MS("offered_at") ", "          \
	MS("awaiting_since") ", owner_staff_id"

static void case_parse(PGresult *r, int i, struct case_row *k)
{
	struct sla_policy *pol = &k->policy;
	k->found = true;
	snprintf(k->no, sizeof(k->no), "%s", PQgetvalue(r, i, 0));
	k->has_start = !PQgetisnull(r, i, 1);
	k->start_ms = col_ms(r, i, 1);
	pol->classified = PQgetvalue(r, i, 2)[0] == 't';
	pol->duration_s[SLA_FIRST_RESPONSE] = atoll(PQgetvalue(r, i, 3));
	pol->duration_s[SLA_VERIFICATION] = atoll(PQgetvalue(r, i, 4));
	pol->duration_s[SLA_RESOLUTION] = atoll(PQgetvalue(r, i, 5));
	pol->duration_s[SLA_REGULATORY] = atoll(PQgetvalue(r, i, 6));
	pol->duration_s[SLA_ACCEPT] = atoll(PQgetvalue(r, i, 7));
	pol->duration_s[SLA_WHOLE_CYCLE] = atoll(PQgetvalue(r, i, 8));
	pol->default_first_response_s = timer_cfg.first_response_s;
	pol->default_accept_s = timer_cfg.accept_s;
	pol->default_whole_cycle_s = timer_cfg.whole_cycle_s;
	snprintf(k->pausable, sizeof(k->pausable), "%s", PQgetvalue(r, i, 9));
	snprintf(k->working, sizeof(k->working), "%s", PQgetvalue(r, i, 10));
	snprintf(k->calendar, sizeof(k->calendar), "%s", PQgetvalue(r, i, 11));
	k->has_offer = !PQgetisnull(r, i, 12);
	k->offered_ms = col_ms(r, i, 12);
	k->awaiting = !PQgetisnull(r, i, 13);
	k->awaiting_ms = col_ms(r, i, 13);
	snprintf(k->owner, sizeof(k->owner), "%s", PQgetvalue(r, i, 14));
}

static int case_load(struct op *o)
{
	const char *p[] = {o->id};
	PGresult *r = pg_query(o->pg,
			       "SELECT " CASE_COLUMNS " FROM cases WHERE complaint_id = $1::uuid "
			       "FOR UPDATE",
			       1, p);
	if (!r)
		return -1;
	if (PQntuples(r) == 1)
		case_parse(r, 0, &o->k);
	PQclear(r);
	return 0;
}

#define CLOCK_COLUMNS                                                                       \
	"clock, state, duration_s, escalation_level, warned, pausable, coalesce(calendar, ''), "\
	"coalesce(stopped_by, ''), complaint_no, " MS("started_at") ", " MS("counted_from") ", "\
	"used_ms, level_base_ms, " MS("paused_at") ", paused_ms, " MS("stopped_at") ", "       \
	MS("due_at") ", " MS("warn_at")

static void clock_parse(PGresult *r, int i, struct clock_row *row)
{
	struct sla_clock *c = &row->c;
	int state = sla_state_of(PQgetvalue(r, i, 1));
	row->exists = true;
	c->state = state < 0 ? SLA_STOPPED : (enum sla_state)state;
	c->duration_s = atoll(PQgetvalue(r, i, 2));
	c->level = atoi(PQgetvalue(r, i, 3));
	c->warned = PQgetvalue(r, i, 4)[0] == 't';
	row->pausable = PQgetvalue(r, i, 5)[0] == 't';
	snprintf(row->calendar, sizeof(row->calendar), "%s", PQgetvalue(r, i, 6));
	snprintf(row->stopped_by, sizeof(row->stopped_by), "%s", PQgetvalue(r, i, 7));
	snprintf(row->no, sizeof(row->no), "%s", PQgetvalue(r, i, 8));
	c->started_ms = col_ms(r, i, 9);
	c->counted_from_ms = col_ms(r, i, 10);
	c->used_ms = col_ms(r, i, 11);
	c->level_base_ms = col_ms(r, i, 12);
	c->paused_at_ms = col_ms(r, i, 13);
	c->paused_ms = col_ms(r, i, 14);
	c->stopped_ms = col_ms(r, i, 15);
	c->t.due_ms = col_ms(r, i, 16);
	c->t.warn_ms = col_ms(r, i, 17);
}

static int clocks_load(PGconn *pg, const char *id, const char *only,
		       struct clock_row rows[SLA_NCLOCKS])
{
	const char *p[] = {id, only};
	PGresult *r = pg_query(pg,
			       "SELECT " CLOCK_COLUMNS " FROM clocks WHERE complaint_id = $1::uuid "
			       "AND ($2::text IS NULL OR clock = $2) FOR UPDATE",
			       2, p);
	if (!r)
		return -1;
	memset(rows, 0, sizeof(struct clock_row) * SLA_NCLOCKS);
	for (int i = 0; i < PQntuples(r); i++) {
		int k = sla_clock_index(PQgetvalue(r, i, 0));
		if (k >= 0)
			clock_parse(r, i, &rows[k]);
	}
	PQclear(r);
	return 0;
}

/* Row i of a stops SELECT (clock, stopped_at in ms, stopped_by) into stops. */
static void stop_parse(PGresult *r, int i, struct stop_row stops[SLA_NCLOCKS])
{
	int k = sla_clock_index(PQgetvalue(r, i, 0));
	if (k < 0)
		return;
	stops[k].seen = true;
	stops[k].at_ms = col_ms(r, i, 1);
	snprintf(stops[k].by, sizeof(stops[k].by), "%s", PQgetvalue(r, i, 2));
}

static int stops_load(struct op *o)
{
	const char *p[] = {o->id};
	PGresult *r = pg_query(o->pg,
			       "SELECT clock, " MS("stopped_at") ", stopped_by FROM stops WHERE "
			       "complaint_id = $1::uuid",
			       1, p);
	if (!r)
		return -1;
	memset(o->stops, 0, sizeof(o->stops));
	for (int i = 0; i < PQntuples(r); i++)
		stop_parse(r, i, o->stops);
	PQclear(r);
	return 0;
}

/* Loads the case (locked first: the order every change takes), its stops and its clocks. */
static int op_open(struct op *o, PGconn *pg, const char *id)
{
	memset(o, 0, sizeof(*o));
	o->pg = pg;
	o->id = id;
	if (case_load(o) != 0 || stops_load(o) != 0 || clocks_load(pg, id, NULL, o->rows) != 0)
		return -1;
	memcpy(o->before, o->rows, sizeof(o->rows));
	return 0;
}

/* The calendar clock i runs on, NULL for calendar time; -1 on a database error. */
static int op_cal(struct op *o, const char *name, const struct calendar **cal)
{
	return timer_calendars_get(o->pg, &o->cals, name, cal);
}

/* ---- writing and announcing ---- */

static bool clock_same(const struct clock_row *a, const struct clock_row *b)
{
	const struct sla_clock *x = &a->c, *y = &b->c;
	return a->exists == b->exists && x->state == y->state && x->duration_s == y->duration_s &&
	       x->level == y->level && x->warned == y->warned && x->started_ms == y->started_ms &&
	       x->counted_from_ms == y->counted_from_ms && x->used_ms == y->used_ms &&
	       x->level_base_ms == y->level_base_ms && x->paused_at_ms == y->paused_at_ms &&
	       x->paused_ms == y->paused_ms && x->stopped_ms == y->stopped_ms &&
	       x->t.due_ms == y->t.due_ms && x->t.warn_ms == y->t.warn_ms &&
	       a->pausable == b->pausable && strcmp(a->calendar, b->calendar) == 0 &&
	       strcmp(a->stopped_by, b->stopped_by) == 0;
}

/* What a snapshot calls the change from a to b. */
static const char *change_kind(const struct clock_row *a, const struct clock_row *b)
{
	enum sla_state s = b->c.state;
	if (!a->exists || a->c.state != s) {
		if (s == SLA_STOPPED)
			return "stopped";
		if (s == SLA_PAUSED)
			return "paused";
		if (a->exists && a->c.state == SLA_PAUSED && s == SLA_RUNNING)
			return "resumed";
		return a->exists && a->c.state == SLA_RUNNING ? "replanned" : "started";
	}
	/* restarted (a reopened resolution, a new promise) rather than re-planned */
	if (a->c.started_ms != b->c.started_ms && b->c.used_ms == 0 &&
	    b->c.counted_from_ms == b->c.started_ms)
		return "started";
	return "replanned";
}

static int clock_write(PGconn *pg, const char *id, int i, const struct clock_row *row)
{
	const struct sla_clock *c = &row->c;
	char dur[24], level[16], started[24], counted[24], used[24], base[24], paused_at[24],
	    paused[24], stopped[24], due[24], warn[24];
	snprintf(dur, sizeof(dur), "%lld", (long long)c->duration_s);
	snprintf(level, sizeof(level), "%d", c->level);
	ms_text(c->started_ms, started);
	ms_text(c->counted_from_ms, counted);
	ms_text(c->used_ms, used);
	ms_text(c->level_base_ms, base);
	ms_text(c->paused_at_ms, paused_at);
	ms_text(c->paused_ms, paused);
	ms_text(c->stopped_ms, stopped);
	ms_text(c->t.due_ms, due);
	ms_text(c->t.warn_ms, warn);
	const char *p[] = {id, sla_clock_names[i], row->no, sla_state_name(c->state), dur, level,
			   c->warned ? "t" : "f", row->pausable ? "t" : "f",
			   row->calendar[0] ? row->calendar : NULL,
			   row->stopped_by[0] ? row->stopped_by : NULL, started, counted, used, base,
			   c->state == SLA_PAUSED ? paused_at : NULL, paused,
			   c->state == SLA_STOPPED ? stopped : NULL, due, warn};
	return pg_exec(pg,
		       "INSERT INTO clocks (complaint_id, clock, complaint_no, state, duration_s, "
		       "escalation_level, warned, pausable, calendar, stopped_by, started_at, "
		       "counted_from, used_ms, level_base_ms, paused_at, paused_ms, stopped_at, "
		       "due_at, warn_at) VALUES ($1::uuid, $2, $3, $4, $5::int, $6::int, $7::bool, "
		       "$8::bool, $9, $10, " TS(11) ", " TS(12) ", $13::bigint, $14::bigint, " TS(15)
		       ", $16::bigint, " TS(17) ", " TS(18) ", " TS(19) ") "
		       CLOCK_UPSERT,
		       19, p);
}

/* The texts a snapshot event points to. */
struct snapshot_text {
	char fired[TSTAMP_LEN], due[TSTAMP_LEN], started[TSTAMP_LEN];
};

/* cp.complaint.clock_changed: the clock as it is now, for the side-by-side case view. */
static void snapshot_fill(Cp__SlaEvent *ev, struct snapshot_text *t, const char *id, int i,
			  const struct clock_row *row, const struct calendar *cal,
			  const char *kind)
{
	const struct sla_clock *c = &row->c;
	int64_t now = tstamp_now_ms();
	cp__sla_event__init(ev);
	tstamp_format(now, t->fired);
	tstamp_format(c->t.due_ms, t->due);
	tstamp_format(c->started_ms, t->started);
	ev->complaint_id = (char *)id;
	ev->complaint_no = (char *)row->no;
	ev->clock = (char *)sla_clock_names[i];
	ev->kind = (char *)kind;
	ev->due_at = t->due;
	ev->escalation_level = c->level;
	ev->escalated_to = (char *)sla_level_name(c->level);
	ev->fired_at = t->fired;
	ev->duration_s = (int32_t)c->duration_s;
	ev->state = (char *)sla_state_name(c->state);
	ev->used_s = sla_clock_used_ms(c, cal, now) / 1000;
	ev->paused_s = c->paused_ms / 1000;
	ev->stopped_by = (char *)row->stopped_by;
	ev->calendar = (char *)row->calendar;
	ev->started_at = t->started;
}

static int snapshot(PGconn *pg, const char *id, int i, const struct clock_row *row,
		    const struct calendar *cal, const char *kind)
{
	Cp__SlaEvent ev;
	struct snapshot_text t;
	snapshot_fill(&ev, &t, id, i, row, cal, kind);
	return outbox_add(pg, TOPIC_SLA, id, "cp.complaint.clock_changed", &ev.base, NULL);
}

static int announce_change(struct op *o, int i, const char *kind)
{
	const struct calendar *cal;
	if (op_cal(o, o->rows[i].calendar, &cal) != 0 ||
	    clock_write(o->pg, o->id, i, &o->rows[i]) != 0)
		return -1;
	log_msg(LOG_DEBUG, "clock_changed",
		LOG_KV({"complaint_no", o->rows[i].no}, {"clock", sla_clock_names[i]}), "%s", kind);
	return snapshot(o->pg, o->id, i, &o->rows[i], cal, kind);
}

/* Writes and announces every clock that changed; releases the op either way. */
static int op_close(struct op *o)
{
	int rc = 0;
	for (int i = 0; i < SLA_NCLOCKS && rc == 0; i++)
		if (o->rows[i].exists && !clock_same(&o->before[i], &o->rows[i]))
			rc = announce_change(o, i, change_kind(&o->before[i], &o->rows[i]));
	timer_calendars_release(&o->cals);
	return rc;
}

static int op_fail(struct op *o)
{
	timer_calendars_release(&o->cals);
	return -1;
}

/* ---- transitions in memory ---- */

static void row_stop(struct clock_row *row, const struct calendar *cal, int64_t at_ms,
		     const char *by)
{
	sla_clock_stop(&row->c, cal, at_ms);
	snprintf(row->stopped_by, sizeof(row->stopped_by), "%s", by);
}

/* Pauses the running pausable clocks while the case waits on the customer; a clock started
 * after the wait began is paused from its start. */
static int pause_waiting(struct op *o)
{
	if (!o->k.awaiting)
		return 0;
	for (int i = 0; i < SLA_NCLOCKS; i++) {
		struct clock_row *row = &o->rows[i];
		const struct calendar *cal;
		if (!row->exists || row->c.state != SLA_RUNNING || !row->pausable)
			continue;
		if (op_cal(o, row->calendar, &cal) != 0)
			return -1;
		sla_clock_pause(&row->c, cal, o->k.awaiting_ms);
	}
	return 0;
}

/* A new clock: stopped at once when its stop came first. */
static int clock_create(struct op *o, int i, int64_t start_ms, int64_t duration_s,
			const char *calendar)
{
	struct clock_row *row = &o->rows[i];
	const struct calendar *cal;
	memset(row, 0, sizeof(*row));
	snprintf(row->calendar, sizeof(row->calendar), "%s", calendar);
	if (op_cal(o, row->calendar, &cal) != 0)
		return -1;
	row->exists = true;
	snprintf(row->no, sizeof(row->no), "%s", o->k.no);
	row->pausable = in_list(o->k.pausable, sla_clock_names[i], sla_pausable);
	sla_clock_start(&row->c, cal, start_ms, duration_s, (int)timer_cfg.warn_pct);
	if (o->stops[i].seen) {
		char by[sizeof(o->stops[i].by)];
		memcpy(by, o->stops[i].by, sizeof(by)); /* not from inside the op being written */
		row_stop(row, cal, o->stops[i].at_ms, by);
	}
	return 0;
}

/* An existing clock under a (new) policy or a corrected start (the receipt came after the
 * classification): the time already used and paused is kept, the rest re-planned. */
static int clock_update(struct op *o, int i, int64_t start_ms, int64_t duration_s,
			const char *calendar)
{
	struct clock_row *row = &o->rows[i];
	const struct calendar *old_cal, *new_cal;
	bool open = row->c.state == SLA_RUNNING || row->c.state == SLA_PAUSED;
	if (op_cal(o, row->calendar, &old_cal) != 0 || op_cal(o, calendar, &new_cal) != 0)
		return -1;
	row->pausable = in_list(o->k.pausable, sla_clock_names[i], sla_pausable);
	if (o->k.no[0])
		snprintf(row->no, sizeof(row->no), "%s", o->k.no);
	if (open && row->c.level == 0 && row->c.started_ms != start_ms && i != SLA_ACCEPT)
		sla_clock_move_start(&row->c, old_cal, start_ms, (int)timer_cfg.warn_pct);
	if (row->c.duration_s == duration_s && strcmp(row->calendar, calendar) == 0)
		return 0;
	int64_t at = o->replan_ms ? o->replan_ms : tstamp_now_ms();
	sla_clock_replan(&row->c, old_cal, new_cal, at, duration_s, (int)timer_cfg.warn_pct);
	snprintf(row->calendar, sizeof(row->calendar), "%s", calendar);
	return 0;
}

/* The classified policy runs no such clock: one started from the defaults before the
 * classification (or by an earlier policy) stops, announced as stopped by the classification. */
static int clock_drop(struct op *o, int i)
{
	struct clock_row *row = &o->rows[i];
	const struct calendar *cal;
	bool open = row->c.state == SLA_RUNNING || row->c.state == SLA_PAUSED ||
		    row->c.state == SLA_EXHAUSTED;
	if (!row->exists || !open || !o->k.policy.classified)
		return 0;
	if (op_cal(o, row->calendar, &cal) != 0)
		return -1;
	row_stop(row, cal, o->replan_ms ? o->replan_ms : tstamp_now_ms(), "cp.complaint.classified");
	return 0;
}

/* Makes the clock rows match the case row. */
static int sync(struct op *o)
{
	int64_t plan[SLA_NCLOCKS];
	if (!o->k.found)
		return 0;
	sla_plan(&o->k.policy, plan);
	for (int i = 0; i < SLA_NCLOCKS; i++) {
		bool known = i == SLA_ACCEPT ? o->k.has_offer : o->k.has_start;
		int64_t start = i == SLA_ACCEPT ? o->k.offered_ms : o->k.start_ms;
		const char *cal = in_list(o->k.working, sla_clock_names[i], sla_on_working_time)
				      ? o->k.calendar : "";
		int rc = 0;
		if (plan[i] <= 0 && i != SLA_NEXT_UPDATE)
			rc = clock_drop(o, i);
		else if (plan[i] <= 0 || !known)
			continue;
		else if (!o->rows[i].exists)
			rc = clock_create(o, i, start, plan[i], cal);
		else
			rc = clock_update(o, i, start, plan[i], cal);
		if (rc != 0)
			return -1;
	}
	return pause_waiting(o);
}

static int sync_op(PGconn *pg, const char *id, int64_t replan_ms)
{
	struct op o;
	if (op_open(&o, pg, id) != 0)
		return op_fail(&o);
	o.replan_ms = replan_ms;
	if (sync(&o) != 0)
		return op_fail(&o);
	return op_close(&o);
}

/* ---- the public changes ---- */

int clocks_received(PGconn *pg, const char *id, const char *no, int64_t received_ms)
{
	char at[24];
	ms_text(received_ms, at);
	const char *p[] = {id, no, at};
	if (pg_exec(pg,
		    "INSERT INTO cases (complaint_id, complaint_no, received_at) VALUES ($1::uuid, "
		    "$2, " TS(3) ") " CASE_RECEIVED_UPSERT,
		    3, p) != 0)
		return -1;
	return sync_op(pg, id, 0);
}

static void list_text(char **names, size_t n, char *out, size_t len)
{
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (sla_clock_index(names[i]) < 0)
			continue;
		int w = snprintf(out + used, len - used, "%s%s", used ? "," : "", names[i]);
		if (w < 0 || (size_t)w >= len - used)
			break;
		used += (size_t)w;
	}
}

int clocks_policy(PGconn *pg, const char *id, const char *no, const struct clocks_policy *pol)
{
	char d[SLA_NCLOCKS][24], pausable[256], working[256], at[24];
	ms_text(pol->classified_ms, at);
	for (int i = 0; i < SLA_NCLOCKS; i++)
		snprintf(d[i], sizeof(d[i]), "%lld", (long long)pol->duration_s[i]);
	list_text(pol->pausable, pol->npausable, pausable, sizeof(pausable));
	list_text(pol->working, pol->nworking, working, sizeof(working));
	const char *p[] = {id, no, pol->name, d[SLA_FIRST_RESPONSE], d[SLA_VERIFICATION],
			   d[SLA_RESOLUTION], d[SLA_REGULATORY], pausable, at, d[SLA_ACCEPT],
			   d[SLA_WHOLE_CYCLE], d[SLA_NEXT_UPDATE], working,
			   pol->calendar ? pol->calendar : ""};
	if (pg_exec(pg,
		    "INSERT INTO cases (complaint_id, complaint_no, classified, sla_policy, "
		    "first_response_s, verification_s, resolution_s, regulatory_s, "
		    "pausable_clocks, classified_at, accept_s, whole_cycle_s, next_update_s, "
		    "working_time_clocks, calendar) VALUES ($1::uuid, $2, true, $3, $4::int, "
		    "$5::int, $6::int, $7::int, coalesce(string_to_array(nullif($8, ''), ','), '{}'), "
		    TS(9) ", $10::int, $11::int, $12::int, "
		    "coalesce(string_to_array(nullif($13, ''), ','), '{}'), $14) "
		    "ON CONFLICT (complaint_id) DO UPDATE SET classified = true, classified_at = "
		    "least(cases.classified_at, excluded.classified_at), sla_policy = excluded.sla_policy, "
		    "first_response_s = excluded.first_response_s, verification_s = "
		    "excluded.verification_s, resolution_s = excluded.resolution_s, regulatory_s = "
		    "excluded.regulatory_s, pausable_clocks = excluded.pausable_clocks, accept_s = "
		    "excluded.accept_s, whole_cycle_s = excluded.whole_cycle_s, next_update_s = "
		    "excluded.next_update_s, working_time_clocks = excluded.working_time_clocks, "
		    "calendar = excluded.calendar, updated_at = now()",
		    14, p) != 0)
		return -1;
	/* a second classification re-plans the open clocks from its own time; the first one's
	 * time stays the provisional start while the receipt is unknown */
	return sync_op(pg, id, pol->classified_ms);
}

/* An offer to a case that was accepted and has lost its owner since (taken from a person
 * with a conflict of interest) starts a new accept round from this offer. */
static int accept_again(struct op *o, int64_t at_ms)
{
	struct clock_row *row = &o->rows[SLA_ACCEPT];
	const struct calendar *cal;
	const char *p[] = {o->id};
	if (!row->exists || row->c.state != SLA_STOPPED || o->k.owner[0] ||
	    strcmp(row->stopped_by, "cp.complaint.assigned") != 0 || at_ms <= row->c.stopped_ms)
		return 0;
	if (op_cal(o, row->calendar, &cal) != 0 ||
	    pg_exec(o->pg, "DELETE FROM stops WHERE complaint_id = $1::uuid AND clock = 'accept'", 1,
		    p) != 0)
		return -1;
	o->stops[SLA_ACCEPT].seen = false;
	sla_clock_restart(&row->c, cal, at_ms, 0, (int)timer_cfg.warn_pct);
	row->stopped_by[0] = '\0';
	return 0;
}

int clocks_owner(PGconn *pg, const char *id, const char *no, const char *owner)
{
	const char *p[] = {id, no, owner ? owner : ""};
	return pg_exec(pg,
		       "INSERT INTO cases (complaint_id, complaint_no, owner_staff_id) VALUES "
		       "($1::uuid, $2, $3) ON CONFLICT (complaint_id) DO UPDATE SET owner_staff_id = "
		       "excluded.owner_staff_id, updated_at = now()",
		       3, p);
}

int clocks_offered(PGconn *pg, const char *id, const char *no, int64_t at_ms)
{
	char at[24];
	struct op o;
	ms_text(at_ms, at);
	const char *p[] = {id, no, at};
	/* the first offer starts the clock: a later round (re-offer) does not move it */
	if (pg_exec(pg,
		    "INSERT INTO cases (complaint_id, complaint_no, offered_at) VALUES ($1::uuid, "
		    "$2, " TS(3) ") ON CONFLICT (complaint_id) DO UPDATE SET offered_at = "
		    "least(cases.offered_at, excluded.offered_at), complaint_no = CASE WHEN "
		    "cases.complaint_no = '' THEN excluded.complaint_no ELSE cases.complaint_no END, "
		    "updated_at = now()",
		    3, p) != 0)
		return -1;
	if (op_open(&o, pg, id) != 0 || accept_again(&o, at_ms) != 0 || sync(&o) != 0)
		return op_fail(&o);
	return op_close(&o);
}

/* Records a stop for a clock that may not exist yet. A promise clock keeps the latest
 * stop (a later promise re-arms it); every other clock, and the close of the case, the first. */
static int stop_record(PGconn *pg, const char *id, const char *clock, const char *by,
		       const char *at)
{
	const char *p[] = {id, clock, by, at, CLOSED_BY};
	return pg_exec(pg,
		       "INSERT INTO stops (complaint_id, clock, stopped_at, stopped_by) VALUES "
		       "($1::uuid, $2, " TS(4) ", $3) ON CONFLICT (complaint_id, clock) DO UPDATE SET "
		       "stopped_at = excluded.stopped_at, stopped_by = excluded.stopped_by WHERE "
		       "stops.clock = 'next_update' AND stops.stopped_by <> $5 AND "
		       "(excluded.stopped_by = $5 OR excluded.stopped_at > stops.stopped_at)",
		       5, p);
}

static int stop_in_op(struct op *o, int i, const char *by, int64_t at_ms)
{
	struct clock_row *row = &o->rows[i];
	const struct calendar *cal;
	if (!row->exists || row->c.state == SLA_STOPPED)
		return 0;
	/* a promise made after this contact is not kept by it */
	if (i == SLA_NEXT_UPDATE && strcmp(by, CLOSED_BY) != 0 && row->c.started_ms > at_ms)
		return 0;
	if (op_cal(o, row->calendar, &cal) != 0)
		return -1;
	row_stop(row, cal, at_ms, by);
	return 0;
}

int clocks_stop(PGconn *pg, const char *id, const char *clock, const char *by, int64_t at_ms)
{
	char at[24];
	struct op o;
	ms_text(at_ms, at);
	int only = sla_clock_index(clock);
	if (clock && only < 0)
		return 0;
	if (!clock) {
		/* the case row first, then the clocks: the order every other change takes */
		const char *p[] = {id};
		if (pg_exec(pg, "UPDATE cases SET awaiting_since = NULL WHERE complaint_id = $1::uuid",
			    1, p) != 0)
			return -1;
	}
	for (int i = 0; i < SLA_NCLOCKS; i++)
		if ((!clock || i == only) && stop_record(pg, id, sla_clock_names[i], by, at) != 0)
			return -1;
	if (op_open(&o, pg, id) != 0)
		return op_fail(&o);
	for (int i = 0; i < SLA_NCLOCKS; i++)
		if ((!clock || i == only) && stop_in_op(&o, i, by, at_ms) != 0)
			return op_fail(&o);
	return op_close(&o);
}

/* Whether a promise made at at_ms still counts: not after the case closed, nor before a
 * later contact that made none. A promise that counts clears the older stop. */
static int promise_counts(struct op *o, int64_t at_ms, bool *counts)
{
	const struct stop_row *s = &o->stops[SLA_NEXT_UPDATE];
	const struct clock_row *row = &o->rows[SLA_NEXT_UPDATE];
	*counts = !(s->seen && (strcmp(s->by, CLOSED_BY) == 0 || s->at_ms > at_ms)) &&
		  !(row->exists && row->c.started_ms > at_ms);
	if (!*counts || !s->seen)
		return 0;
	const char *p[] = {o->id};
	return pg_exec(o->pg,
		       "DELETE FROM stops WHERE complaint_id = $1::uuid AND clock = 'next_update'",
		       1, p);
}

int clocks_promise(PGconn *pg, const char *id, const char *no, int64_t at_ms, int64_t due_ms)
{
	struct op o;
	bool counts = false;
	const char *p[] = {id, no};
	if (pg_exec(pg,
		    "INSERT INTO cases (complaint_id, complaint_no) VALUES ($1::uuid, $2) "
		    "ON CONFLICT (complaint_id) DO NOTHING",
		    2, p) != 0)
		return -1;
	if (op_open(&o, pg, id) != 0 || promise_counts(&o, at_ms, &counts) != 0)
		return op_fail(&o);
	if (!counts)
		return op_close(&o);
	struct clock_row *row = &o.rows[SLA_NEXT_UPDATE];
	memset(row, 0, sizeof(*row));
	row->exists = true;
	snprintf(row->no, sizeof(row->no), "%s", o.k.no[0] ? o.k.no : no);
	row->pausable = in_list(o.k.pausable, "next_update", sla_pausable);
	sla_clock_arm(&row->c, at_ms, due_ms, (int)timer_cfg.warn_pct);
	if (pause_waiting(&o) != 0)
		return op_fail(&o);
	return op_close(&o);
}

int clocks_pause(PGconn *pg, const char *id, const char *no, int64_t at_ms)
{
	char at[24];
	struct op o;
	ms_text(at_ms, at);
	const char *p[] = {id, no, at};
	if (pg_exec(pg,
		    "INSERT INTO cases (complaint_id, complaint_no, awaiting_since) VALUES "
		    "($1::uuid, $2, " TS(3) ") ON CONFLICT (complaint_id) DO UPDATE SET "
		    "awaiting_since = coalesce(cases.awaiting_since, excluded.awaiting_since), "
		    "updated_at = now()",
		    3, p) != 0)
		return -1;
	if (op_open(&o, pg, id) != 0 || pause_waiting(&o) != 0)
		return op_fail(&o);
	return op_close(&o);
}

int clocks_resume(PGconn *pg, const char *id, int64_t at_ms)
{
	struct op o;
	const char *p[] = {id};
	if (pg_exec(pg, "UPDATE cases SET awaiting_since = NULL, updated_at = now() WHERE "
			"complaint_id = $1::uuid",
		    1, p) != 0)
		return -1;
	if (op_open(&o, pg, id) != 0)
		return op_fail(&o);
	for (int i = 0; i < SLA_NCLOCKS; i++) {
		struct clock_row *row = &o.rows[i];
		const struct calendar *cal;
		if (!row->exists || row->c.state != SLA_PAUSED)
			continue;
		if (op_cal(&o, row->calendar, &cal) != 0)
			return op_fail(&o);
		sla_clock_resume(&row->c, cal, at_ms, (int)timer_cfg.warn_pct);
	}
	return op_close(&o);
}

int clocks_reopen(PGconn *pg, const char *id, int64_t at_ms)
{
	struct op o;
	const struct calendar *cal;
	const char *p[] = {id, CLOSED_BY};
	/* the case is open again: its resolution runs, and promises made from now on count */
	if (pg_exec(pg,
		    "DELETE FROM stops WHERE complaint_id = $1::uuid AND (clock = 'resolution' OR "
		    "(clock = 'next_update' AND stopped_by = $2))",
		    2, p) != 0)
		return -1;
	if (op_open(&o, pg, id) != 0)
		return op_fail(&o);
	struct clock_row *row = &o.rows[SLA_RESOLUTION];
	if (!row->exists) {
		/* created from the policy when it comes */
		if (sync(&o) != 0)
			return op_fail(&o);
		return op_close(&o);
	}
	if (op_cal(&o, row->calendar, &cal) != 0)
		return op_fail(&o);
	sla_clock_restart(&row->c, cal, at_ms, sla_reopen_level(row->c.level),
			  (int)timer_cfg.warn_pct);
	row->stopped_by[0] = '\0';
	if (pause_waiting(&o) != 0)
		return op_fail(&o);
	return op_close(&o);
}

/* ---- firing due clocks as one set ---- */

/* One clock of a fired set: its row before and after, its two events and their texts. */
struct fired_clock {
	char id[40];
	int i;
	struct clock_row before, row;
	Cp__SlaEvent breach, snap;
	char b_fired[TSTAMP_LEN], b_due[TSTAMP_LEN], b_next[TSTAMP_LEN];
	struct snapshot_text st;
};

/* The breach event, as fire.c announces one breach (the due time it missed, the level it
 * escalates to, the next due time unless the ladder is exhausted). */
static void breach_fill(struct fired_clock *f, struct sla_escalation e, int64_t now_ms)
{
	Cp__SlaEvent *ev = &f->breach;
	cp__sla_event__init(ev);
	tstamp_format(now_ms, f->b_fired);
	tstamp_format(f->before.c.t.due_ms, f->b_due);
	f->b_next[0] = '\0';
	if (!e.exhausted)
		tstamp_format(f->row.c.t.due_ms, f->b_next);
	ev->complaint_id = f->id;
	ev->clock = (char *)sla_clock_names[f->i];
	ev->complaint_no = f->row.no;
	ev->due_at = f->b_due;
	ev->kind = "breach";
	ev->escalation_level = e.level;
	ev->escalated_to = (char *)sla_level_name(e.level);
	ev->fired_at = f->b_fired;
	ev->next_due_at = f->b_next;
	ev->duration_s = (int32_t)f->before.c.duration_s;
	log_msg(LOG_WARN, "sla_breach",
		LOG_KV({"complaint_no", ev->complaint_no}, {"clock", ev->clock},
		       {"escalated_to", ev->escalated_to}),
		"%s clock breach at level %d", ev->clock, e.level);
}

/* Escalates and re-arms the claimed clock in memory (one clock's breach: sla_clock_breach) and fills
 * its events. Calendars come from one cache for the set, emptied when full. */
static int breach_compute(PGconn *pg, struct timer_calendars *cals, struct fired_clock *f,
			  int64_t now_ms)
{
	const struct calendar *cal;
	if (cals->n == TIMER_CALENDARS_MAX) {
		timer_calendars_release(cals);
		memset(cals, 0, sizeof(*cals));
	}
	if (timer_calendars_get(pg, cals, f->row.calendar, &cal) != 0)
		return -1;
	struct sla_escalation e = sla_clock_breach(&f->row.c, cal, now_ms, (int)timer_cfg.warn_pct);
	breach_fill(f, e, now_ms);
	snapshot_fill(&f->snap, &f->st, f->id, f->i, &f->row, cal,
		      change_kind(&f->before, &f->row));
	return 0;
}

enum { FIRE_NCOLS = 17 };

/* The row's columns for the set update (clock_write's, "" standing for NULL). */
static void fired_cells(const struct fired_clock *f, const char **cell, char (*num)[24])
{
	const struct sla_clock *c = &f->row.c;
	clock_num_text(c, num);
	const char *v[FIRE_NCOLS] = {f->id,
				     sla_clock_names[f->i],
				     sla_state_name(c->state),
				     num[0],
				     num[1],
				     c->warned ? "t" : "f",
				     f->row.stopped_by,
				     num[2],
				     num[3],
				     num[4],
				     num[5],
				     c->state == SLA_PAUSED ? num[6] : "",
				     num[7],
				     c->state == SLA_STOPPED ? num[8] : "",
				     num[9],
				     num[10],
				     f->row.calendar};
	memcpy(cell, v, sizeof(v));
}

#define TSU(col) "to_timestamp(NULLIF(" col ", '')::bigint / 1000.0)"

/* Writes every fired clock with one UPDATE and their events (each clock's breach, then its
 * snapshot: a consumer of the topic sees the breach first) with one INSERT. */
static int fired_write(PGconn *pg, const struct fired_clock *f, size_t n)
{
	const char **cells = malloc(n * FIRE_NCOLS * sizeof(*cells));
	char(*num)[11][24] = malloc(n * sizeof(*num));
	struct outbox_item *ev = malloc(2 * n * sizeof(*ev));
	int rc = -1;
	if (!cells || !num || !ev)
		goto failed;
	for (size_t j = 0; j < n; j++) {
		fired_cells(&f[j], cells + j * FIRE_NCOLS, num[j]);
		ev[2 * j] = (struct outbox_item){TOPIC_SLA, f[j].id, "cp.complaint.sla_breached",
						 &f[j].breach.base};
		ev[2 * j + 1] = (struct outbox_item){TOPIC_SLA, f[j].id,
						     "cp.complaint.clock_changed", &f[j].snap.base};
	}
	PGresult *r = pg_query_columns(
	    pg, "timer_fire_set",
	    "UPDATE clocks k SET state = u.state, duration_s = u.dur::int, escalation_level = "
	    "u.lvl::int, warned = u.warned::bool, stopped_by = NULLIF(u.stopped_by, ''), "
	    "started_at = " TSU("u.started") ", counted_from = " TSU("u.counted") ", used_ms = "
	    "u.used::bigint, level_base_ms = u.base::bigint, paused_at = " TSU("u.paused_at") ", "
	    "paused_ms = u.paused::bigint, stopped_at = " TSU("u.stopped") ", due_at = "
	    TSU("u.due") ", warn_at = " TSU("u.warn") ", calendar = NULLIF(u.cal, '') "
	    "FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], "
	    "$7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], "
	    "$13::text[], $14::text[], $15::text[], $16::text[], $17::text[]) AS u (id, clock, "
	    "state, dur, lvl, warned, stopped_by, started, counted, used, base, paused_at, paused, "
	    "stopped, due, warn, cal) WHERE k.complaint_id = u.id::uuid AND k.clock = u.clock",
	    FIRE_NCOLS, n, cells);
	rc = r ? 0 : -1;
	PQclear(r);
	if (rc == 0)
		rc = outbox_add_set(pg, ev, 2 * n);
failed:
	free(cells);
	free(num);
	free(ev);
	return rc;
}

int clocks_breach_due(PGconn *pg, int limit, int breaches[SLA_NCLOCKS])
{
	char lim[16];
	snprintf(lim, sizeof(lim), "%d", limit);
	const char *p[] = {lim};
	PGresult *r = pg_query(pg,
			       "SELECT " CLOCK_COLUMNS ", complaint_id::text, " MS("now()") " FROM "
			       "clocks WHERE state = 'running' AND due_at <= now() ORDER BY due_at "
			       "LIMIT $1::int FOR UPDATE SKIP LOCKED",
			       1, p);
	if (!r)
		return -1;
	int n = PQntuples(r), rc = 0;
	struct fired_clock *f = calloc(n ? (size_t)n : 1, sizeof(*f));
	struct timer_calendars cals;
	memset(&cals, 0, sizeof(cals));
	if (!f)
		rc = -1;
	int k = 0;
	for (int row = 0; row < n && rc == 0; row++) {
		struct fired_clock *x = &f[k];
		x->i = sla_clock_index(PQgetvalue(r, row, 0));
		if (x->i < 0)
			continue;
		clock_parse(r, row, &x->row);
		x->before = x->row;
		snprintf(x->id, sizeof(x->id), "%s", PQgetvalue(r, row, 18));
		rc = breach_compute(pg, &cals, x, atoll(PQgetvalue(r, row, 19)));
		breaches[x->i]++;
		k++;
	}
	PQclear(r);
	if (rc == 0 && k > 0)
		rc = fired_write(pg, f, (size_t)k);
	timer_calendars_release(&cals);
	free(f);
	return rc == 0 ? n : -1;
}
/* ---- sets: the changes of many complaints with a constant number of statements ---- */

/* The ordinal column (1-based) a set's SELECT adds after the columns it parses. */
static struct op *op_of(PGresult *r, int row, int col, struct op *ops, size_t n)
{
	unsigned long o = strtoul(PQgetvalue(r, row, col), NULL, 10);
	return o >= 1 && o <= n ? &ops[o - 1] : NULL;
}

/* op_open for n ops of distinct complaints (pg and id set, the rest zero): their cases, stops
 * and clocks with one statement each, the rows locked in complaint order. */
static int ops_open(PGconn *pg, struct op *ops, size_t n)
{
	const char **ids = malloc(n * sizeof(*ids));
	if (!ids)
		return -1;
	for (size_t j = 0; j < n; j++)
		ids[j] = ops[j].id;
	PGresult *r = pg_query_columns(pg, "timer_cases_set",
				       "SELECT " CASE_COLUMNS ", u.o FROM unnest($1::text[]) WITH "
				       "ORDINALITY AS u (id, o) JOIN cases c ON c.complaint_id = "
				       "u.id::uuid ORDER BY c.complaint_id FOR UPDATE OF c",
				       1, n, ids);
	for (int i = 0; r && i < PQntuples(r); i++) {
		struct op *o = op_of(r, i, 15, ops, n);
		if (o)
			case_parse(r, i, &o->k);
	}
	PQclear(r);
	PGresult *s = !r ? NULL : pg_query_columns(pg, "timer_stops_set",
				       "SELECT s.clock, " MS("s.stopped_at") ", s.stopped_by, u.o "
				       "FROM unnest($1::text[]) WITH ORDINALITY AS u (id, o) JOIN "
				       "stops s ON s.complaint_id = u.id::uuid",
				       1, n, ids);
	for (int i = 0; s && i < PQntuples(s); i++) {
		struct op *o = op_of(s, i, 3, ops, n);
		if (o)
			stop_parse(s, i, o->stops);
	}
	PQclear(s);
	PGresult *k = !s ? NULL : pg_query_columns(pg, "timer_clocks_set",
				       "SELECT " CLOCK_COLUMNS ", u.o FROM unnest($1::text[]) WITH "
				       "ORDINALITY AS u (id, o) JOIN clocks k ON k.complaint_id = "
				       "u.id::uuid ORDER BY k.complaint_id, k.clock FOR UPDATE OF k",
				       1, n, ids);
	for (int i = 0; k && i < PQntuples(k); i++) {
		struct op *o = op_of(k, i, 18, ops, n);
		int c = sla_clock_index(PQgetvalue(k, i, 0));
		if (o && c >= 0)
			clock_parse(k, i, &o->rows[c]);
	}
	PQclear(k);
	free(ids);
	for (size_t j = 0; j < n; j++)
		memcpy(ops[j].before, ops[j].rows, sizeof(ops[j].rows));
	return k ? 0 : -1;
}

static void ops_release(struct op *ops, size_t n)
{
	for (size_t j = 0; j < n; j++)
		timer_calendars_release(&ops[j].cals);
}

enum { CLOCK_NCOLS = 19 };

/* op_close for n ops: every changed clock announced (in op and clock order, as op_close
 * would one op after the other) and all of them written with one upsert. Releases the ops. */
static int ops_close(PGconn *pg, struct op *ops, size_t n)
{
	size_t m = 0, w = 0;
	int rc = 0;
	for (size_t j = 0; j < n; j++)
		for (int i = 0; i < SLA_NCLOCKS; i++)
			m += ops[j].rows[i].exists && !clock_same(&ops[j].before[i], &ops[j].rows[i]);
	const char **cells = malloc((m ? m : 1) * CLOCK_NCOLS * sizeof(*cells));
	char(*num)[11][24] = malloc((m ? m : 1) * sizeof(*num));
	if (!cells || !num)
		rc = -1;
	for (size_t j = 0; j < n && rc == 0; j++) {
		struct op *o = &ops[j];
		for (int i = 0; i < SLA_NCLOCKS && rc == 0; i++) {
			const struct clock_row *row = &o->rows[i];
			const struct sla_clock *c = &row->c;
			const struct calendar *cal;
			if (!row->exists || clock_same(&o->before[i], row))
				continue;
			const char *kind = change_kind(&o->before[i], row);
			if (op_cal(o, row->calendar, &cal) != 0) {
				rc = -1;
				break;
			}
			char(*x)[24] = num[w];
			clock_num_text(c, x);
			/* clock_write's values, "" standing for its NULLs */
			const char *v[CLOCK_NCOLS] = {o->id, sla_clock_names[i], row->no,
				sla_state_name(c->state), x[0], x[1], c->warned ? "t" : "f",
				row->pausable ? "t" : "f", row->calendar, row->stopped_by, x[2], x[3],
				x[4], x[5], c->state == SLA_PAUSED ? x[6] : "", x[7],
				c->state == SLA_STOPPED ? x[8] : "", x[9], x[10]};
			memcpy(cells + w * CLOCK_NCOLS, v, sizeof(v));
			w++;
			log_msg(LOG_DEBUG, "clock_changed",
				LOG_KV({"complaint_no", row->no}, {"clock", sla_clock_names[i]}), "%s",
				kind);
			rc = snapshot(pg, o->id, i, row, cal, kind);
		}
	}
	PGresult *r = NULL;
	if (rc == 0 && w > 0) {
		r = pg_query_columns(pg, "timer_clocks_write_set",
		    "INSERT INTO clocks (complaint_id, clock, complaint_no, state, duration_s, "
		    "escalation_level, warned, pausable, calendar, stopped_by, started_at, "
		    "counted_from, used_ms, level_base_ms, paused_at, paused_ms, stopped_at, "
		    "due_at, warn_at) SELECT u.id::uuid, u.clock, u.no, u.state, u.dur::int, "
		    "u.lvl::int, u.warned::bool, u.pausable::bool, NULLIF(u.cal, ''), "
		    "NULLIF(u.stopped_by, ''), " TSU("u.started") ", " TSU("u.counted") ", "
		    "u.used::bigint, u.base::bigint, " TSU("u.paused_at") ", u.paused::bigint, "
		    TSU("u.stopped") ", " TSU("u.due") ", " TSU("u.warn") " FROM unnest($1::text[], "
		    "$2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], "
		    "$8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], "
		    "$14::text[], $15::text[], $16::text[], $17::text[], $18::text[], $19::text[]) "
		    "WITH ORDINALITY AS u (id, clock, no, state, dur, lvl, warned, pausable, cal, "
		    "stopped_by, started, counted, used, base, paused_at, paused, stopped, due, warn, "
		    "o) ORDER BY u.o "
		    CLOCK_UPSERT,
		    CLOCK_NCOLS, w, cells);
		rc = r ? 0 : -1;
		PQclear(r);
	}
	free(cells);
	free(num);
	ops_release(ops, n);
	return rc;
}

/* What sync_op does to each complaint of the set, after the set's case upsert. */
static int ops_sync(PGconn *pg, const struct clocks_event *ev, size_t n, bool policy)
{
	struct op *ops = calloc(n, sizeof(*ops));
	int rc = ops ? 0 : -1;
	for (size_t j = 0; j < n && rc == 0; j++) {
		ops[j].pg = pg;
		ops[j].id = ev[j].complaint_id;
		ops[j].replan_ms = policy ? ev[j].policy->classified_ms : 0;
	}
	if (rc == 0)
		rc = ops_open(pg, ops, n);
	for (size_t j = 0; j < n && rc == 0; j++)
		rc = sync(&ops[j]);
	if (rc == 0)
		rc = ops_close(pg, ops, n);
	else if (ops)
		ops_release(ops, n);
	free(ops);
	return rc;
}

int clocks_received_set(PGconn *pg, const struct clocks_event *ev, size_t n)
{
	const char **cells = malloc(3 * n * sizeof(*cells));
	char(*at)[24] = malloc(n * sizeof(*at));
	int rc = -1;
	if (!cells || !at)
		goto out;
	for (size_t j = 0; j < n; j++) {
		ms_text(ev[j].at_ms, at[j]);
		cells[3 * j] = ev[j].complaint_id;
		cells[3 * j + 1] = ev[j].complaint_no;
		cells[3 * j + 2] = at[j];
	}
	/* clocks_received's upsert, one row per complaint */
	PGresult *r = pg_query_columns(pg, "timer_received_set",
		"INSERT INTO cases (complaint_id, complaint_no, received_at) SELECT u.i::uuid, u.n, "
		"to_timestamp(u.t::bigint / 1000.0) FROM unnest($1::text[], $2::text[], $3::text[]) "
		"WITH ORDINALITY AS u (i, n, t, o) ORDER BY u.o " CASE_RECEIVED_UPSERT,
		3, n, cells);
	rc = r ? 0 : -1;
	PQclear(r);
	if (rc == 0)
		rc = ops_sync(pg, ev, n, false);
out:
	free(cells);
	free(at);
	return rc;
}

enum { POLICY_NCOLS = 14 };

int clocks_policy_set(PGconn *pg, const struct clocks_event *ev, size_t n)
{
	const char **cells = malloc(POLICY_NCOLS * n * sizeof(*cells));
	struct policy_text {
		char d[SLA_NCLOCKS][24], pausable[256], working[256], at[24];
	} *t = malloc(n * sizeof(*t));
	int rc = -1;
	if (!cells || !t)
		goto out;
	for (size_t j = 0; j < n; j++) {
		const struct clocks_policy *pol = ev[j].policy;
		ms_text(pol->classified_ms, t[j].at);
		for (int i = 0; i < SLA_NCLOCKS; i++)
			snprintf(t[j].d[i], sizeof(t[j].d[i]), "%lld", (long long)pol->duration_s[i]);
		list_text(pol->pausable, pol->npausable, t[j].pausable, sizeof(t[j].pausable));
		list_text(pol->working, pol->nworking, t[j].working, sizeof(t[j].working));
		const char *v[POLICY_NCOLS] = {ev[j].complaint_id, ev[j].complaint_no, pol->name,
			t[j].d[SLA_FIRST_RESPONSE], t[j].d[SLA_VERIFICATION], t[j].d[SLA_RESOLUTION],
			t[j].d[SLA_REGULATORY], t[j].pausable, t[j].at, t[j].d[SLA_ACCEPT],
			t[j].d[SLA_WHOLE_CYCLE], t[j].d[SLA_NEXT_UPDATE], t[j].working,
			pol->calendar ? pol->calendar : ""};
		memcpy(cells + j * POLICY_NCOLS, v, sizeof(v));
	}
	/* clocks_policy's upsert, one row per complaint */
	PGresult *r = pg_query_columns(pg, "timer_policy_set",
		"INSERT INTO cases (complaint_id, complaint_no, classified, sla_policy, "
		"first_response_s, verification_s, resolution_s, regulatory_s, pausable_clocks, "
		"classified_at, accept_s, whole_cycle_s, next_update_s, working_time_clocks, "
		"calendar) SELECT u.i::uuid, u.n, true, u.pol, u.fr::int, u.ve::int, u.re::int, "
		"u.rg::int, coalesce(string_to_array(nullif(u.pa, ''), ','), '{}'), "
		"to_timestamp(u.at::bigint / 1000.0), u.ac::int, u.wc::int, u.nu::int, "
		"coalesce(string_to_array(nullif(u.wo, ''), ','), '{}'), u.cal FROM "
		"unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], "
		"$7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], "
		"$13::text[], $14::text[]) WITH ORDINALITY AS u (i, n, pol, fr, ve, re, rg, pa, at, "
		"ac, wc, nu, wo, cal, o) ORDER BY u.o "
		"ON CONFLICT (complaint_id) DO UPDATE SET classified = true, classified_at = "
		"least(cases.classified_at, excluded.classified_at), sla_policy = excluded.sla_policy, "
		"first_response_s = excluded.first_response_s, verification_s = "
		"excluded.verification_s, resolution_s = excluded.resolution_s, regulatory_s = "
		"excluded.regulatory_s, pausable_clocks = excluded.pausable_clocks, accept_s = "
		"excluded.accept_s, whole_cycle_s = excluded.whole_cycle_s, next_update_s = "
		"excluded.next_update_s, working_time_clocks = excluded.working_time_clocks, "
		"calendar = excluded.calendar, updated_at = now()",
		POLICY_NCOLS, n, cells);
	rc = r ? 0 : -1;
	PQclear(r);
	if (rc == 0)
		rc = ops_sync(pg, ev, n, true);
out:
	free(cells);
	free(t);
	return rc;
}
// clang-format on
