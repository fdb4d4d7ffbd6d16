/* PostgreSQL access.
 *
 * Threading model (the one used everywhere): the libevent loop thread never talks to
 * PostgreSQL. Blocking libpq calls happen only on worker threads (HTTP workers, the consumer
 * thread, the outbox relay, periodic tasks), each owning one struct pg_conn. A pg_conn
 * reconnects by itself: pg_conn_get returns a usable connection or NULL while the server is
 * unreachable (with backoff), and every query helper logs the server's own error text.
 * Parameters are always bound, never spliced into SQL. */
#ifndef CP_PG_H
#define CP_PG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "backoff.h"

struct pg_conn {
	PGconn *conn;
	char *conninfo;
	char name[32];
	double next_try;
	struct backoff backoff; /* jittered, so services do not reconnect in lock-step */
};

/* conninfo is copied. */
int pg_conn_init(struct pg_conn *pc, const char *conninfo, const char *name)
    __attribute__((warn_unused_result));
void pg_conn_release(struct pg_conn *pc);
/* Returns a connected PGconn, reconnecting when the previous one broke; NULL if the server
 * cannot be reached now (retry later). */
PGconn *pg_conn_get(struct pg_conn *pc);
/* Drops the connection after a failure so the next pg_conn_get reconnects. */
void pg_conn_reset(struct pg_conn *pc);

/* Runs a statement with text parameters. Returns the result on PGRES_COMMAND_OK or
 * PGRES_TUPLES_OK (the caller PQclear()s it), NULL on error (logged). */
PGresult *pg_query(PGconn *c, const char *sql, int nparams, const char *const *params);
/* The same with per-parameter lengths and formats (1 = binary, for bytea). */
PGresult *pg_query_bin(PGconn *c, const char *sql, int nparams, const char *const *params,
		       const int *lengths, const int *formats);
/* The same as pg_query through a named prepared statement: prepared on first use on each
 * connection (per thread; a reconnect prepares again), for hot statements whose planning costs
 * more than running them. name must be unique per statement text. */
PGresult *pg_query_prepared(PGconn *c, const char *name, const char *sql, int nparams,
			    const char *const *params);
/* Whether pg_query prepares sql (once per connection): the statements PostgreSQL plans
 * (SELECT, INSERT, UPDATE, DELETE, WITH), except those with an optional filter ("$n IS NULL OR
 * ...", "$n = '' OR ..."), which are planned for their arguments on every run. Transaction
 * control, SET, LISTEN and DDL run as they are. */
bool pg_prepares(const char *sql);
/* Prepared statements are prepared again after this many seconds (60), so their plans follow
 * tables that grew since (tests set 0: every run prepares again). */
void pg_set_replan_seconds(double seconds);
/* Runs a statement and discards its result. Returns 0 or -1. BEGIN (outside a transaction),
 * SAVEPOINT and RELEASE SAVEPOINT (inside a healthy one) without parameters are not sent at
 * once: they go in the same flight as the next statement on c (any pg.h call; a pipeline's
 * first), saving a round trip each, and should they fail (a misuse, a broken connection) that
 * statement fails with their SQLSTATE. So after pg_begin talk to the server only through pg.h.
 * A transaction in which nothing else ran costs no round trip (pg_commit and pg_rollback then
 * send nothing, and still run the tx-end hooks). */
int pg_exec(PGconn *c, const char *sql, int nparams, const char *const *params)
    __attribute__((warn_unused_result));

/* BEGIN, sent with the next statement (see pg_exec). */
int pg_begin(PGconn *c) __attribute__((warn_unused_result));
/* Adds a hook called on the thread that ended a transaction with pg_commit (committed: true
 * when the COMMIT succeeded) or pg_rollback (false): the outbox wakes its relay with it,
 * follow-up its delivery. Adding the same hook again does nothing. Returns -1 when the four
 * places are taken. */
int pg_add_tx_end_hook(void (*hook)(bool committed)) __attribute__((warn_unused_result));
int pg_commit(PGconn *c) __attribute__((warn_unused_result));
void pg_rollback(PGconn *c);

/* The SQLSTATE of the last failed pg_query on this thread ("" when none). */
const char *pg_last_sqlstate(void);
/* The error text of the last failed pg_query on this thread. */
const char *pg_last_error(void);

/* A PostgreSQL text[] literal of n strings, for binding as $n::text[]. Every element is
 * double-quoted with '"' and '\\' escaped, so commas, braces, blanks and the word NULL stay
 * text (a JSON array with its brackets swapped is NOT such a literal: JSON's \n, \u00e9 and
 * unquoted NULL mean something else to PostgreSQL). NULL items are taken as "". Returns a
 * string the caller frees, or NULL when out of memory. */
char *pg_text_array(const char *const *items, size_t n) __attribute__((warn_unused_result));

/* A set-based statement over a row-major table of nrows x ncols text cells (NULL taken as ""):
 * column i is bound as parameter $i+1, a text[] literal, so the statement reads the rows with
 * unnest($1::text[], $2::text[], ...) WITH ORDINALITY. One round trip whatever nrows is; the
 * statement is prepared on first use like pg_query_prepared. Returns as pg_query does. */
PGresult *pg_query_columns(PGconn *c, const char *name, const char *sql, size_t ncols, size_t nrows,
			   const char *const *cells);

/* A pipeline: statements queued here go to PostgreSQL in one network flight (libpq's pipeline
 * mode) and their results are read back in order, so n statements that do not need each
 * other's results cost one round trip instead of n (intake's POST: BEGIN, its locks and its
 * lookup in one flight, the case, its event and COMMIT in the next). Each statement is prepared
 * as pg_query would (pg_prepares; pg_pipe_add_prepared names it): a statement not yet prepared
 * on the connection, or due to be prepared again, has its Parse sent in the same flight. The
 * server runs the statements one after another, as if sent one by one, with one difference:
 * without BEGIN they form one implicit transaction (all or nothing).
 *
 * The first statement that fails stops the pipeline as libpq does: the statements after it
 * are not run (pg_pipe_result NULL), pg_pipe_failed tells which one failed and
 * pg_last_sqlstate/pg_last_error its SQLSTATE and text. A transaction the failure aborted stays
 * aborted for the caller's pg_rollback, unless the pipeline holds COMMIT (pg_pipe_commit): then
 * it ends the transaction either way (the aborted one rolled back, the connection usable) and
 * runs the tx-end hooks like pg_commit. A broken connection fails the run (sqlstate "" or
 * 08xxx); pg_conn_get reconnects.
 *
 * Queueing copies the parameters and sends nothing: a pipe may be filled by several functions,
 * then run once. Statements must not depend on an earlier one's result (only on its effect,
 * which they see). Meant for a handful of statements with small results (PG_PIPE_MAX); one
 * pipe per thread at a time, not shared. */
#define PG_PIPE_MAX 16
struct pg_pipe_stmt;
struct pg_pipe {
	size_t n;
	bool broken; /* a statement could not be queued (full, out of memory): the run fails */
	bool commit; /* the last statement is COMMIT */
	int failed;  /* index of the statement that failed, -1 */
	struct pg_pipe_stmt *stmts[PG_PIPE_MAX];
};

void pg_pipe_init(struct pg_pipe *p);
/* Frees the queued statements and their results; the pipe may be filled again. */
void pg_pipe_clear(struct pg_pipe *p);
/* Queue a statement; return its index (for pg_pipe_result) or -1 when the pipe is full or
 * memory is short (the run then fails without sending anything). sql is copied too. */
int pg_pipe_add(struct pg_pipe *p, const char *sql, int nparams, const char *const *params);
int pg_pipe_add_bin(struct pg_pipe *p, const char *sql, int nparams, const char *const *params,
		    const int *lengths, const int *formats);
int pg_pipe_add_prepared(struct pg_pipe *p, const char *name, const char *sql, int nparams,
			 const char *const *params);
/* BEGIN and COMMIT as statements of the pipe (COMMIT last: nothing may be queued after it). */
int pg_pipe_begin(struct pg_pipe *p);
int pg_pipe_commit(struct pg_pipe *p);
/* Sends every queued statement in one flight and reads the results. Returns 0 when all
 * succeeded, -1 otherwise (see above). Call once per filling. */
int pg_pipe_run(PGconn *c, struct pg_pipe *p) __attribute__((warn_unused_result));
/* Statement i's result after a run (the pipe owns it: pg_pipe_clear frees it), NULL when it
 * failed or was not run. */
PGresult *pg_pipe_result(const struct pg_pipe *p, int i);
/* The index of the statement that failed in the last run, -1 when none did (a connection that
 * broke before any result, or a pipe that could not be queued, fail with -1 too). */
int pg_pipe_failed(const struct pg_pipe *p);

/* Convenience for single values: text of row 0 column col, or def when NULL/absent. */
const char *pg_value(const PGresult *r, int row, int col, const char *def);

#endif
