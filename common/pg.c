#include "pg.h"

#include <ctype.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "tstamp.h"

static void pg_prepared_forget(const PGconn *c);
static void pg_defer_forget(const PGconn *c);
static bool pg_defer_pending(const PGconn *c);
static bool pg_defer_add(PGconn *c, const char *sql);
static PGresult *pg_run_deferred(PGconn *c, const char *name, const char *sql, int nparams,
				 const char *const *params, const int *lengths, const int *formats);

static __thread char pg_sqlstate[8];
static __thread char pg_errtext[512];

int pg_conn_init(struct pg_conn *pc, const char *conninfo, const char *name)
{
	memset(pc, 0, sizeof(*pc));
	pc->conninfo = strdup(conninfo);
	snprintf(pc->name, sizeof(pc->name), "%s", name);
	backoff_init(&pc->backoff, 100, 5000);
	return pc->conninfo ? 0 : -1;
}

void pg_conn_release(struct pg_conn *pc)
{
	if (pc->conn) {
		pg_defer_forget(pc->conn);
		pg_prepared_forget(pc->conn);
		PQfinish(pc->conn);
	}
	free(pc->conninfo);
	memset(pc, 0, sizeof(*pc));
}

void pg_conn_reset(struct pg_conn *pc)
{
	if (pc->conn) {
		pg_defer_forget(pc->conn);
		pg_prepared_forget(pc->conn);
		PQfinish(pc->conn);
	}
	pc->conn = NULL;
}

static void pg_notice(void *arg, const char *message)
{
	log_debug("pg_notice", "%s", message);
}

PGconn *pg_conn_get(struct pg_conn *pc)
{
	/* a connection left in pipeline mode is lost too: when the server went away in the
	 * middle of a pipeline, libpq could keep the status OK while every later statement failed
	 * with "cannot exit pipeline mode with uncollected results", and intake's consumer
	 * retried its batch on that connection for good (found by the chaos battery's database
	 * restart: its committed lag never came back to 0) */
	if (pc->conn && PQstatus(pc->conn) == CONNECTION_OK &&
	    PQpipelineStatus(pc->conn) == PQ_PIPELINE_OFF)
		return pc->conn;
	if (pc->conn) {
		log_warn("pg_reconnect", "%s: connection lost, reconnecting", pc->name);
		pg_conn_reset(pc);
	}
	double now = tstamp_mono();
	if (now < pc->next_try)
		return NULL;
	pc->conn = PQconnectdb(pc->conninfo);
	if (PQstatus(pc->conn) != CONNECTION_OK) {
		log_warn("pg_connect", "%s: cannot connect: %s", pc->name,
			 PQerrorMessage(pc->conn));
		pg_conn_reset(pc);
		pc->next_try = now + backoff_next_ms(&pc->backoff) / 1000.0;
		return NULL;
	}
	PQsetNoticeProcessor(pc->conn, pg_notice, NULL);
	backoff_reset(&pc->backoff);
	return pc->conn;
}

/* Keeps a failure's SQLSTATE and text for pg_last_sqlstate/pg_last_error, and logs it. */
static void pg_note_error(const char *state, const char *text, const char *sql)
{
	snprintf(pg_sqlstate, sizeof(pg_sqlstate), "%s", state ? state : "");
	snprintf(pg_errtext, sizeof(pg_errtext), "%s", text ? text : "");
	size_t n = strlen(pg_errtext);
	while (n > 0 && pg_errtext[n - 1] == '\n')
		pg_errtext[--n] = '\0';
	char stmt[81];
	snprintf(stmt, sizeof(stmt), "%s", sql);
	log_msg(LOG_WARN, "pg_error", LOG_KV({"sqlstate", pg_sqlstate}, {"statement", stmt}), "%s",
		pg_errtext);
}

static PGresult *pg_check(PGconn *c, PGresult *r, const char *sql)
{
	ExecStatusType st = PQresultStatus(r);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		pg_sqlstate[0] = '\0';
		return r;
	}
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	pg_note_error(state, PQerrorMessage(c), sql);
	PQclear(r);
	return NULL;
}

/* Statements this thread prepared, by connection and backend (a reconnect is a new backend):
 * an open-addressing table keyed by the statement's name. Parsing, analysing and planning a
 * short statement costs PostgreSQL more CPU than running it (pg_stat_statements in `make
 * bench`: about 270 statements per complaint across the pipeline), so every statement a
 * service runs more than once is prepared once per connection. SQL is never built from data
 * (parameters are bound), so the set of statements is bounded by the code; should the table
 * fill up anyway, statements simply run unprepared. */
#define PG_PREPARED_MAX 1024
struct pg_prepared {
	const PGconn *conn; /* NULL: free (dead: a tombstone the probe goes past) */
	int pid;
	bool dead;
	uint64_t hash;
	double prepared_at; /* tstamp_mono() */
	char name[44];
};
static __thread struct pg_prepared pg_prepared[PG_PREPARED_MAX];
static __thread size_t pg_prepared_used; /* slots with a live statement */

static uint64_t pg_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static uint64_t pg_slot_hash(const PGconn *c, int pid, const char *name)
{
	return pg_hash(name) ^ ((uint64_t)(uintptr_t)c * 31) ^ (uint64_t)pid;
}

/* The slot of (c, pid, name): its own when prepared (*found), else a free one to take; NULL
 * when the table is full. */
static struct pg_prepared *pg_prepared_slot(PGconn *c, int pid, const char *name, bool *found)
{
	uint64_t h = pg_slot_hash(c, pid, name);
	struct pg_prepared *free_slot = NULL;
	*found = false;
	for (size_t i = 0; i < PG_PREPARED_MAX; i++) {
		struct pg_prepared *s = &pg_prepared[(h + i) % PG_PREPARED_MAX];
		if (!s->conn) {
			if (!free_slot)
				free_slot = s;
			if (!s->dead)
				break; /* never used: the statement is not further on */
			continue;
		}
		if (s->conn == c && s->pid == pid && s->hash == h && strcmp(s->name, name) == 0) {
			*found = true;
			return s;
		}
	}
	return pg_prepared_used + 1 < PG_PREPARED_MAX ? free_slot : NULL;
}

/* Forgets what this thread prepared on c (called when c is closed: its statements went with
 * its backend, and a later connection may get the same address). */
static void pg_prepared_forget(const PGconn *c)
{
	for (size_t i = 0; i < PG_PREPARED_MAX; i++) {
		if (pg_prepared[i].conn == c) {
			pg_prepared[i].conn = NULL;
			pg_prepared[i].dead = true;
			pg_prepared_used--;
		}
	}
}

/* A statement is prepared again after this long. A cached plan is replanned when ANALYZE
 * changes its tables' statistics, but a young table grows faster than autovacuum analyses it,
 * and a plan made while it was empty (a sequential scan) would stay for minutes: make bench
 * starts on empty tables, where the timer's next-due query ran 17 ms per call that way. */
static _Atomic double pg_replan_seconds = 60;

void pg_set_replan_seconds(double seconds)
{
	pg_replan_seconds = seconds;
}

/* Runs sql through the named statement, preparing it on first use on this connection (and
 * again after pg_replan_seconds). */
static PGresult *pg_run_prepared(PGconn *c, const char *name, const char *sql, int nparams,
				 const char *const *params, const int *lengths, const int *formats)
{
	int pid = PQbackendPID(c);
	bool found;
	struct pg_prepared *slot = pg_prepared_slot(c, pid, name, &found);
	if (!slot) /* the table is full: run it unprepared */
		return pg_check(c, PQexecParams(c, sql, nparams, NULL, params, lengths, formats, 0),
				sql);
	double now = tstamp_mono();
	bool replan = false;
	if (found && now - slot->prepared_at >= pg_replan_seconds &&
	    PQtransactionStatus(c) != PQTRANS_INERROR) {
		/* DEALLOCATE is not transactional: a rollback does not bring the old one back */
		char sql_dealloc[64];
		snprintf(sql_dealloc, sizeof(sql_dealloc), "DEALLOCATE \"%s\"", name);
		PGresult *d = pg_check(c, PQexec(c, sql_dealloc), sql_dealloc);
		if (!d && PQtransactionStatus(c) == PQTRANS_INERROR)
			return NULL;
		PQclear(d);
		found = false;
		replan = true;
	}
	if (!found) {
		PGresult *r = pg_check(c, PQprepare(c, name, sql, nparams, NULL), sql);
		if (!r)
			return NULL;
		PQclear(r);
		if (!replan)
			pg_prepared_used++;
		slot->conn = c;
		slot->pid = pid;
		slot->hash = pg_slot_hash(c, pid, name);
		slot->prepared_at = now;
		snprintf(slot->name, sizeof(slot->name), "%s", name);
	}
	return pg_check(c, PQexecPrepared(c, name, nparams, params, lengths, formats, 0), sql);
}

bool pg_prepares(const char *sql)
{
	static const char *const verbs[] = {"SELECT", "INSERT", "UPDATE", "DELETE", "WITH"};
	/* an optional filter ("$3::text IS NULL OR outlet_id = $3", "$4 = '' OR category = $4")
	 * has no good plan for every argument: after five executions PostgreSQL may keep a
	 * generic plan that cannot use the filter's index, and a staff search by waybill would
	 * scan the whole table. Such statements are planned for their arguments each time. */
	static const char *const optional[] = {" IS NULL OR ", " = '' OR "};
	for (size_t i = 0; i < sizeof(optional) / sizeof(optional[0]); i++)
		for (const char *at = strstr(sql, optional[i]); at;
		     at = strstr(at + 1, optional[i])) {
			/* back over "$3::text" to its '$': a parameter's test, not a column's */
			const char *p = at;
			while (p > sql &&
			       (isalnum((unsigned char)p[-1]) || p[-1] == '_' || p[-1] == ':'))
				p--;
			if (p > sql && p[-1] == '$')
				return false;
		}
	while (*sql == ' ' || *sql == '\n' || *sql == '\t' || *sql == '(')
		sql++;
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strncasecmp(sql, verbs[i], strlen(verbs[i])) == 0)
			return true;
	return false;
}

/* The name pg_query prepares sql under (the same for pg_pipe_add). */
static void pg_auto_name(const char *sql, char *name, size_t cap)
{
	snprintf(name, cap, "cp_%016llx", (unsigned long long)pg_hash(sql));
}

static PGresult *pg_run(PGconn *c, const char *sql, int nparams, const char *const *params,
			const int *lengths, const int *formats)
{
	/* a statement without parameters has one plan anyway, and the periodic tasks' ones (the
	 * timer's next due time) read young tables best planned on their size of the moment */
	char name[40] = "";
	bool prepared = nparams > 0 && pg_prepares(sql);
	if (prepared)
		pg_auto_name(sql, name, sizeof(name));
	if (pg_defer_pending(c))
		return pg_run_deferred(c, name, sql, nparams, params, lengths, formats);
	if (!prepared)
		return pg_check(c, PQexecParams(c, sql, nparams, NULL, params, lengths, formats, 0),
				sql);
	return pg_run_prepared(c, name, sql, nparams, params, lengths, formats);
}

PGresult *pg_query(PGconn *c, const char *sql, int nparams, const char *const *params)
{
	return pg_run(c, sql, nparams, params, NULL, NULL);
}

PGresult *pg_query_bin(PGconn *c, const char *sql, int nparams, const char *const *params,
		       const int *lengths, const int *formats)
{
	return pg_run(c, sql, nparams, params, lengths, formats);
}

PGresult *pg_query_prepared(PGconn *c, const char *name, const char *sql, int nparams,
			    const char *const *params)
{
	if (pg_defer_pending(c))
		return pg_run_deferred(c, name, sql, nparams, params, NULL, NULL);
	return pg_run_prepared(c, name, sql, nparams, params, NULL, NULL);
}

int pg_exec(PGconn *c, const char *sql, int nparams, const char *const *params)
{
	if (nparams == 0 && pg_defer_add(c, sql))
		return 0;
	PGresult *r = pg_query(c, sql, nparams, params);
	if (!r)
		return -1;
	PQclear(r);
	return 0;
}

/* Transaction control sent with the next statement. BEGIN, SAVEPOINT and RELEASE SAVEPOINT
 * (through pg_exec, without parameters) answer nothing a caller needs and fail only on a
 * misuse or a broken connection, yet each cost a round trip of its own: a consumer applying an
 * event under a savepoint spent three round trips on control for one of work. They are kept
 * here (one connection per thread at a time) and go out in the same flight as the next
 * statement (a pipeline), a failure of theirs reported as that statement's; a transaction in
 * which nothing else ran costs no round trip at all. */
#define PG_DEFER_MAX 8
static __thread const PGconn *pg_defer_conn;
static __thread int pg_defer_pid; /* a later connection at the same address is another */
static __thread size_t pg_defer_n;
static __thread char pg_defer_sql[PG_DEFER_MAX][64];

static bool pg_defer_pending(const PGconn *c)
{
	return pg_defer_n > 0 && pg_defer_conn == c && pg_defer_pid == PQbackendPID(c);
}

/* Whether c's transaction is still only a deferred BEGIN. */
static bool pg_defer_unstarted(const PGconn *c)
{
	return pg_defer_pending(c) && strcmp(pg_defer_sql[0], "BEGIN") == 0;
}

static void pg_defer_forget(const PGconn *c)
{
	if (pg_defer_conn == c)
		pg_defer_n = 0;
}

/* Keeps sql for the next statement on c when it is transaction control that may wait: BEGIN
 * outside a transaction, a savepoint's SAVEPOINT or RELEASE inside one (not in an aborted
 * one: there the caller wants its error now). Returns whether it was kept. */
static bool pg_defer_add(PGconn *c, const char *sql)
{
	bool begin = strcmp(sql, "BEGIN") == 0;
	bool savepoint =
	    strncmp(sql, "SAVEPOINT ", 10) == 0 || strncmp(sql, "RELEASE SAVEPOINT ", 18) == 0;
	bool pending = pg_defer_pending(c);
	if ((!begin && !savepoint) || strlen(sql) >= sizeof(pg_defer_sql[0]) || strchr(sql, ';') ||
	    (pg_defer_n > 0 && !pending) || pg_defer_n == PG_DEFER_MAX ||
	    PQpipelineStatus(c) != PQ_PIPELINE_OFF)
		return false;
	PGTransactionStatusType st = PQtransactionStatus(c);
	if (begin ? pending || st != PQTRANS_IDLE : !pending && st != PQTRANS_INTRANS)
		return false;
	pg_defer_conn = c;
	pg_defer_pid = PQbackendPID(c);
	snprintf(pg_defer_sql[pg_defer_n++], sizeof(pg_defer_sql[0]), "%s", sql);
	return true;
}

/* The hooks are added once each at start (outbox, a service's own wake-ups) and only read
 * afterwards, on every commit. */
#define PG_TX_END_HOOKS 4
static void (*_Atomic pg_tx_end_hooks[PG_TX_END_HOOKS])(bool committed);

int pg_add_tx_end_hook(void (*hook)(bool committed))
{
	for (size_t i = 0; i < PG_TX_END_HOOKS; i++) {
		void (*none)(bool) = NULL;
		if (pg_tx_end_hooks[i] == hook ||
		    atomic_compare_exchange_strong(&pg_tx_end_hooks[i], &none, hook))
			return 0;
	}
	return -1;
}

static void pg_tx_end(bool committed)
{
	for (size_t i = 0; i < PG_TX_END_HOOKS; i++) {
		void (*hook)(bool) = pg_tx_end_hooks[i];
		if (hook)
			hook(committed);
	}
}

int pg_begin(PGconn *c)
{
	return pg_exec(c, "BEGIN", 0, NULL);
}

int pg_commit(PGconn *c)
{
	if (pg_defer_unstarted(c)) { /* nothing ran: nothing to commit */
		pg_defer_forget(c);
		pg_tx_end(true);
		return 0;
	}
	int rc = pg_exec(c, "COMMIT", 0, NULL);
	pg_tx_end(rc == 0);
	return rc;
}

void pg_rollback(PGconn *c)
{
	bool started = !pg_defer_unstarted(c);
	pg_defer_forget(c); /* they belong to the transaction rolled back */
	if (started)
		PQclear(PQexec(c, "ROLLBACK"));
	pg_tx_end(false);
}

const char *pg_last_sqlstate(void)
{
	return pg_sqlstate;
}

const char *pg_last_error(void)
{
	return pg_errtext;
}

/* ---- pipelines ------------------------------------------------------------------------ */

struct pg_pipe_stmt {
	char *sql;
	char name[40]; /* "" when run unprepared */
	int nparams;
	char **params;
	int *lengths, *formats; /* NULL: text */
	PGresult *res;
	/* while running: the statement's place in the prepared table and what was sent for it */
	struct pg_prepared *slot;
	bool claimed;	 /* the slot was taken for this statement's Parse */
	bool replanned;	 /* DEALLOCATE, then Parse again */
	bool dealloc_ok; /* those ran */
	bool prepare_ok;
	double old_prepared_at;
};

/* What one sent message answers: libpq gives one result (then NULL) per queued operation. */
enum pg_pipe_op_kind { PG_PIPE_CONTROL, PG_PIPE_DEALLOC, PG_PIPE_PREPARE, PG_PIPE_EXEC };
struct pg_pipe_op {
	enum pg_pipe_op_kind kind;
	int stmt;
};

void pg_pipe_init(struct pg_pipe *p)
{
	memset(p, 0, sizeof(*p));
	p->failed = -1;
}

static void pg_pipe_stmt_free(struct pg_pipe_stmt *s)
{
	if (!s)
		return;
	for (int i = 0; s->params && i < s->nparams; i++)
		free(s->params[i]);
	free(s->params);
	free(s->lengths);
	free(s->formats);
	free(s->sql);
	PQclear(s->res);
	free(s);
}

void pg_pipe_clear(struct pg_pipe *p)
{
	for (size_t i = 0; i < p->n; i++)
		pg_pipe_stmt_free(p->stmts[i]);
	pg_pipe_init(p);
}

/* A copy of parameter i (binary ones by their length; NULL stays NULL). */
static int pg_pipe_copy_param(struct pg_pipe_stmt *s, int i, const char *v, const int *lengths,
			      const int *formats)
{
	if (!v)
		return 0;
	bool bin = formats && formats[i] == 1;
	size_t len = bin ? (size_t)lengths[i] : strlen(v) + 1;
	if (!(s->params[i] = malloc(len ? len : 1)))
		return -1;
	memcpy(s->params[i], v, len);
	return 0;
}

static struct pg_pipe_stmt *pg_pipe_stmt_new(const char *sql, int nparams,
					     const char *const *params, const int *lengths,
					     const int *formats)
{
	struct pg_pipe_stmt *s = calloc(1, sizeof(*s));
	if (!s || !(s->sql = strdup(sql)))
		goto failed;
	s->nparams = nparams;
	if (nparams > 0 && !(s->params = calloc((size_t)nparams, sizeof(*s->params))))
		goto failed;
	if (formats) {
		s->lengths = calloc((size_t)nparams, sizeof(int));
		s->formats = calloc((size_t)nparams, sizeof(int));
		if (!s->lengths || !s->formats)
			goto failed;
		memcpy(s->lengths, lengths, (size_t)nparams * sizeof(int));
		memcpy(s->formats, formats, (size_t)nparams * sizeof(int));
	}
	for (int i = 0; i < nparams; i++)
		if (pg_pipe_copy_param(s, i, params[i], lengths, formats) != 0)
			goto failed;
	return s;
failed:
	pg_pipe_stmt_free(s);
	return NULL;
}

/* Queues a statement under name ("" unprepared). */
static int pg_pipe_push(struct pg_pipe *p, const char *name, const char *sql, int nparams,
			const char *const *params, const int *lengths, const int *formats)
{
	struct pg_pipe_stmt *s = NULL;
	if (p->n == PG_PIPE_MAX || p->commit ||
	    !(s = pg_pipe_stmt_new(sql, nparams, params, lengths, formats))) {
		p->broken = true;
		return -1;
	}
	snprintf(s->name, sizeof(s->name), "%s", name);
	p->stmts[p->n] = s;
	return (int)p->n++;
}

int pg_pipe_add_bin(struct pg_pipe *p, const char *sql, int nparams, const char *const *params,
		    const int *lengths, const int *formats)
{
	char name[40] = "";
	if (nparams > 0 && pg_prepares(sql)) /* as pg_run decides */
		pg_auto_name(sql, name, sizeof(name));
	return pg_pipe_push(p, name, sql, nparams, params, lengths, formats);
}

int pg_pipe_add(struct pg_pipe *p, const char *sql, int nparams, const char *const *params)
{
	return pg_pipe_add_bin(p, sql, nparams, params, NULL, NULL);
}

int pg_pipe_add_prepared(struct pg_pipe *p, const char *name, const char *sql, int nparams,
			 const char *const *params)
{
	return pg_pipe_push(p, name, sql, nparams, params, NULL, NULL);
}

int pg_pipe_begin(struct pg_pipe *p)
{
	return pg_pipe_push(p, "", "BEGIN", 0, NULL, NULL, NULL);
}

int pg_pipe_commit(struct pg_pipe *p)
{
	int i = pg_pipe_push(p, "", "COMMIT", 0, NULL, NULL, NULL);
	p->commit = i >= 0;
	return i;
}

PGresult *pg_pipe_result(const struct pg_pipe *p, int i)
{
	return i >= 0 && (size_t)i < p->n ? p->stmts[i]->res : NULL;
}

int pg_pipe_failed(const struct pg_pipe *p)
{
	return p->failed;
}

/* Queues s's Parse when it is not prepared on c (or due to be prepared again: DEALLOCATE
 * first, not when the caller's transaction is aborted, as in pg_run_prepared). The slot is
 * taken now, so the same statement later in the pipe is only executed; pg_pipe_settle gives it
 * back if the Parse did not run. Returns 0, or -1 when libpq could not queue. */
static int pg_pipe_send_prepare(PGconn *c, struct pg_pipe_stmt *s, int i, bool inerror,
				struct pg_pipe_op *ops, int *nops)
{
	int pid = PQbackendPID(c);
	bool found;
	double now = tstamp_mono();
	s->slot = pg_prepared_slot(c, pid, s->name, &found);
	if (!s->slot)
		return 0; /* the table is full: run unprepared */
	if (found && (now - s->slot->prepared_at < pg_replan_seconds || inerror))
		return 0;
	if (found) {
		char sql_dealloc[64];
		snprintf(sql_dealloc, sizeof(sql_dealloc), "DEALLOCATE \"%s\"", s->name);
		if (!PQsendQueryParams(c, sql_dealloc, 0, NULL, NULL, NULL, NULL, 0))
			return -1;
		ops[(*nops)++] = (struct pg_pipe_op){PG_PIPE_DEALLOC, i};
		s->replanned = true;
		s->old_prepared_at = s->slot->prepared_at;
	} else {
		s->claimed = true;
		pg_prepared_used++;
		s->slot->conn = c;
		s->slot->pid = pid;
		s->slot->hash = pg_slot_hash(c, pid, s->name);
		snprintf(s->slot->name, sizeof(s->slot->name), "%s", s->name);
	}
	s->slot->prepared_at = now;
	if (!PQsendPrepare(c, s->name, s->sql, s->nparams, NULL))
		return -1;
	ops[(*nops)++] = (struct pg_pipe_op){PG_PIPE_PREPARE, i};
	return 0;
}

static int pg_pipe_send(PGconn *c, struct pg_pipe *p, bool inerror, struct pg_pipe_op *ops,
			int *nops)
{
	/* the transaction control kept for this connection goes first (PG_PIPE_CONTROL's stmt is
	 * its place in pg_defer_sql) */
	for (size_t i = 0; pg_defer_pending(c) && i < pg_defer_n; i++) {
		if (!PQsendQueryParams(c, pg_defer_sql[i], 0, NULL, NULL, NULL, NULL, 0))
			return -1;
		ops[(*nops)++] = (struct pg_pipe_op){PG_PIPE_CONTROL, (int)i};
	}
	pg_defer_forget(c);
	for (size_t i = 0; i < p->n; i++) {
		struct pg_pipe_stmt *s = p->stmts[i];
		const char *const *params = (const char *const *)s->params;
		if (s->name[0] && pg_pipe_send_prepare(c, s, (int)i, inerror, ops, nops) != 0)
			return -1;
		int ok = s->slot ? PQsendQueryPrepared(c, s->name, s->nparams, params, s->lengths,
						       s->formats, 0)
				 : PQsendQueryParams(c, s->sql, s->nparams, NULL, params,
						     s->lengths, s->formats, 0);
		if (!ok)
			return -1;
		ops[(*nops)++] = (struct pg_pipe_op){PG_PIPE_EXEC, (int)i};
	}
	return PQpipelineSync(c) ? 0 : -1;
}

/* Takes one operation's result. Returns false when the connection gave none (broken). */
static bool pg_pipe_take(PGconn *c, struct pg_pipe *p, const struct pg_pipe_op *op)
{
	bool control = op->kind == PG_PIPE_CONTROL;
	struct pg_pipe_stmt *s = control ? NULL : p->stmts[op->stmt];
	PGresult *r = PQgetResult(c);
	if (!r)
		return false;
	ExecStatusType st = PQresultStatus(r);
	bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
	if (!ok && st != PGRES_PIPELINE_ABORTED && p->failed < 0) {
		/* a kept BEGIN or SAVEPOINT fails as the first statement of the pipe */
		p->failed = control ? 0 : op->stmt;
		pg_note_error(PQresultErrorField(r, PG_DIAG_SQLSTATE), PQresultErrorMessage(r),
			      control ? pg_defer_sql[op->stmt] : s->sql);
	}
	if (control)
		;
	else if (op->kind == PG_PIPE_DEALLOC)
		s->dealloc_ok = ok;
	else if (op->kind == PG_PIPE_PREPARE)
		s->prepare_ok = ok;
	if (op->kind == PG_PIPE_EXEC && ok) {
		s->res = r;
		r = NULL;
	}
	PQclear(r);
	/* every operation's results end with a NULL (one result each here) */
	for (int extra = 0; extra < 4 && (r = PQgetResult(c)) != NULL; extra++)
		PQclear(r);
	return PQstatus(c) == CONNECTION_OK;
}

/* Reads the results up to the sync and leaves pipeline mode. Returns -1 when the connection
 * broke on the way. */
static int pg_pipe_receive(PGconn *c, struct pg_pipe *p, const struct pg_pipe_op *ops, int nops)
{
	for (int k = 0; k < nops; k++)
		if (!pg_pipe_take(c, p, &ops[k]))
			return -1;
	PGresult *r = PQgetResult(c);
	bool synced = PQresultStatus(r) == PGRES_PIPELINE_SYNC;
	PQclear(r);
	return synced && PQexitPipelineMode(c) ? 0 : -1;
}

/* What a Parse that did not run leaves: the slot given back (or its old time kept when the
 * DEALLOCATE did not run either, the old statement still being there). */
static void pg_pipe_settle(struct pg_pipe *p)
{
	for (size_t i = 0; i < p->n; i++) {
		struct pg_pipe_stmt *s = p->stmts[i];
		if (s->prepare_ok || !(s->claimed || s->replanned))
			continue;
		if (s->replanned && !s->dealloc_ok) {
			s->slot->prepared_at = s->old_prepared_at;
			continue;
		}
		s->slot->conn = NULL;
		s->slot->dead = true;
		pg_prepared_used--;
	}
}

/* A pipe with COMMIT ends its transaction whatever happened: an aborted one is rolled back
 * here (PostgreSQL skipped the COMMIT and keeps the session in the failed transaction). */
static void pg_pipe_end_tx(PGconn *c, struct pg_pipe *p)
{
	if (!p->commit)
		return;
	bool committed = p->stmts[p->n - 1]->res != NULL;
	if (!committed && PQstatus(c) == CONNECTION_OK && PQpipelineStatus(c) == PQ_PIPELINE_OFF &&
	    PQtransactionStatus(c) != PQTRANS_IDLE)
		PQclear(PQexec(c, "ROLLBACK"));
	pg_tx_end(committed);
}

/* After a run that went wrong: reads what is left up to the sync so the connection leaves
 * pipeline mode (a broken connection is left to pg_conn_get, which replaces it). */
static void pg_pipe_drain(PGconn *c)
{
	for (int guard = 0; guard < 4 * PG_PIPE_MAX + 8; guard++) {
		if (PQstatus(c) != CONNECTION_OK || PQexitPipelineMode(c))
			return;
		PQclear(PQgetResult(c));
	}
}

int pg_pipe_run(PGconn *c, struct pg_pipe *p)
{
	struct pg_pipe_op ops[PG_DEFER_MAX + 3 * PG_PIPE_MAX];
	int nops = 0, rc = -1;
	p->failed = -1;
	if (p->broken) {
		pg_note_error(NULL, "a statement could not be queued", "pipeline");
		goto out;
	}
	if (p->n == 0)
		return 0;
	bool inerror = PQtransactionStatus(c) == PQTRANS_INERROR;
	if (!PQenterPipelineMode(c)) {
		pg_note_error(NULL, PQerrorMessage(c), "pipeline");
		goto out;
	}
	if (pg_pipe_send(c, p, inerror, ops, &nops) != 0 || pg_pipe_receive(c, p, ops, nops) != 0) {
		if (p->failed < 0)
			pg_note_error(NULL, PQerrorMessage(c), p->stmts[0]->sql);
		pg_pipe_drain(c);
	} else {
		rc = p->failed < 0 ? 0 : -1;
		if (rc == 0)
			pg_sqlstate[0] = '\0';
	}
	pg_pipe_settle(p);
out:
	pg_pipe_end_tx(c, p);
	return rc;
}

/* A statement on a connection with transaction control kept for it: both in one flight. */
static PGresult *pg_run_deferred(PGconn *c, const char *name, const char *sql, int nparams,
				 const char *const *params, const int *lengths, const int *formats)
{
	struct pg_pipe p;
	pg_pipe_init(&p);
	int i = pg_pipe_push(&p, name, sql, nparams, params, lengths, formats);
	PGresult *r = NULL;
	if (pg_pipe_run(c, &p) == 0 && i >= 0) {
		r = p.stmts[i]->res;
		p.stmts[i]->res = NULL; /* the caller's now */
	}
	pg_pipe_clear(&p);
	return r;
}

/* Every stride-th item from items[0]: the column of a row-major table. */
static char *pg_text_array_strided(const char *const *items, size_t n, size_t stride)
{
	size_t cap = 3;
	for (size_t i = 0; i < n; i++)
		cap += 2 * strlen(items[i * stride] ? items[i * stride] : "") + 3;
	char *out = malloc(cap), *o = out;
	if (!out)
		return NULL;
	*o++ = '{';
	for (size_t i = 0; i < n; i++) {
		if (i)
			*o++ = ',';
		*o++ = '"';
		for (const char *s = items[i * stride] ? items[i * stride] : ""; *s; s++) {
			if (*s == '"' || *s == '\\')
				*o++ = '\\';
			*o++ = *s;
		}
		*o++ = '"';
	}
	*o++ = '}';
	*o = '\0';
	return out;
}

char *pg_text_array(const char *const *items, size_t n)
{
	return pg_text_array_strided(items, n, 1);
}

PGresult *pg_query_columns(PGconn *c, const char *name, const char *sql, size_t ncols, size_t nrows,
			   const char *const *cells)
{
	char **arrays = calloc(ncols, sizeof(*arrays));
	PGresult *r = NULL;
	if (!arrays)
		return NULL;
	size_t i = 0;
	for (; i < ncols; i++)
		if (!(arrays[i] = pg_text_array_strided(cells + i, nrows, ncols)))
			goto failed;
	r = pg_query_prepared(c, name, sql, (int)ncols, (const char *const *)arrays);
failed:
	for (size_t j = 0; j < i; j++)
		free(arrays[j]);
	free(arrays);
	return r;
}

const char *pg_value(const PGresult *r, int row, int col, const char *def)
{
	if (!r || row >= PQntuples(r) || col >= PQnfields(r) || PQgetisnull(r, row, col))
		return def;
	return PQgetvalue(r, row, col);
}
