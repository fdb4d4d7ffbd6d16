#include "pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "tstamp.h"

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
	if (pc->conn)
		PQfinish(pc->conn);
	free(pc->conninfo);
	memset(pc, 0, sizeof(*pc));
}

void pg_conn_reset(struct pg_conn *pc)
{
	if (pc->conn)
		PQfinish(pc->conn);
	pc->conn = NULL;
}

static void pg_notice(void *arg, const char *message)
{
	log_debug("pg_notice", "%s", message);
}

PGconn *pg_conn_get(struct pg_conn *pc)
{
	if (pc->conn && PQstatus(pc->conn) == CONNECTION_OK)
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

static PGresult *pg_check(PGconn *c, PGresult *r, const char *sql)
{
	ExecStatusType st = PQresultStatus(r);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		pg_sqlstate[0] = '\0';
		return r;
	}
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	snprintf(pg_sqlstate, sizeof(pg_sqlstate), "%s", state ? state : "");
	snprintf(pg_errtext, sizeof(pg_errtext), "%s", PQerrorMessage(c));
	size_t n = strlen(pg_errtext);
	while (n > 0 && pg_errtext[n - 1] == '\n')
		pg_errtext[--n] = '\0';
	char stmt[81];
	snprintf(stmt, sizeof(stmt), "%s", sql);
	log_msg(LOG_WARN, "pg_error", LOG_KV({"sqlstate", pg_sqlstate}, {"statement", stmt}), "%s",
		pg_errtext);
	PQclear(r);
	return NULL;
}

PGresult *pg_query(PGconn *c, const char *sql, int nparams, const char *const *params)
{
	return pg_check(c, PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0), sql);
}

PGresult *pg_query_bin(PGconn *c, const char *sql, int nparams, const char *const *params,
		       const int *lengths, const int *formats)
{
	return pg_check(c, PQexecParams(c, sql, nparams, NULL, params, lengths, formats, 0), sql);
}

/* Statements this thread prepared, by connection and backend (a reconnect is a new backend). */
#define PG_PREPARED_MAX 16
struct pg_prepared {
	const PGconn *conn;
	int pid;
	char name[64];
};
static __thread struct pg_prepared pg_prepared[PG_PREPARED_MAX];
static __thread unsigned pg_prepared_next;

static bool pg_is_prepared(PGconn *c, int pid, const char *name)
{
	for (int i = 0; i < PG_PREPARED_MAX; i++)
		if (pg_prepared[i].conn == c && pg_prepared[i].pid == pid &&
		    strcmp(pg_prepared[i].name, name) == 0)
			return true;
	return false;
}

PGresult *pg_query_prepared(PGconn *c, const char *name, const char *sql, int nparams,
			    const char *const *params)
{
	int pid = PQbackendPID(c);
	if (!pg_is_prepared(c, pid, name)) {
		PGresult *r = pg_check(c, PQprepare(c, name, sql, nparams, NULL), sql);
		if (!r)
			return NULL;
		PQclear(r);
		struct pg_prepared *slot = &pg_prepared[pg_prepared_next++ % PG_PREPARED_MAX];
		slot->conn = c;
		slot->pid = pid;
		snprintf(slot->name, sizeof(slot->name), "%s", name);
	}
	return pg_check(c, PQexecPrepared(c, name, nparams, params, NULL, NULL, 0), sql);
}

int pg_exec(PGconn *c, const char *sql, int nparams, const char *const *params)
{
	PGresult *r = pg_query(c, sql, nparams, params);
	if (!r)
		return -1;
	PQclear(r);
	return 0;
}

int pg_begin(PGconn *c)
{
	return pg_exec(c, "BEGIN", 0, NULL);
}

int pg_commit(PGconn *c)
{
	return pg_exec(c, "COMMIT", 0, NULL);
}

void pg_rollback(PGconn *c)
{
	PGresult *r = PQexec(c, "ROLLBACK");
	PQclear(r);
}

const char *pg_last_sqlstate(void)
{
	return pg_sqlstate;
}

const char *pg_last_error(void)
{
	return pg_errtext;
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
