/* Transactional outbox. A state change and the event announcing it are written in the same
 * PostgreSQL transaction: outbox_add inserts the event row into <schema>.outbox (created by
 * public.cp_create_messaging). A commit that added rows wakes the process's relay thread (no
 * NOTIFY: see outbox.c), which otherwise looks every half second; it publishes unsent rows in
 * id order with CloudEvents headers and marks each row sent only
 * after its successful delivery report. Several instances may run: a transaction-scoped
 * advisory lock lets one relay per schema publish at a time (so events keep their order) and
 * rows are locked FOR UPDATE SKIP LOCKED; a crash between delivery and the commit re-publishes
 * a row with the same ce_id, which consumers deduplicate. */
#ifndef CP_OUTBOX_H
#define CP_OUTBOX_H

#include <libpq-fe.h>
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>

#include "ids.h"
#include "kafka.h"
#include "tstamp.h"

#define OUTBOX_INSERT_SQL                                                                          \
	"INSERT INTO outbox (ce_id, ce_type, ce_source, ce_time, topic, msg_key, payload) "        \
	"VALUES ($1, $2, $3, $4, $5, $6, $7)"

/* The ce_source of every event this process writes, e.g. "/cp/intake". Copied. */
void outbox_set_source(const char *source);
const char *outbox_source(void);

/* Packs msg and inserts it; ce_id_out (may be NULL) receives the event id. Call inside the
 * caller's transaction. Returns 0 or -1. */
int outbox_add(PGconn *c, const char *topic, const char *key, const char *ce_type,
	       const ProtobufCMessage *msg, char *ce_id_out) __attribute__((warn_unused_result));

/* outbox_add for a pipeline: the insert is queued on p (pg.h), to run with the statements
 * around it in one flight (the row is written when p runs, in p's transaction). Deferred rows
 * (outbox_defer) are held as with outbox_add. Returns 0, or -1 when out of memory. */
struct pg_pipe;
int outbox_pipe_add(struct pg_pipe *p, const char *topic, const char *key, const char *ce_type,
		    const ProtobufCMessage *msg, char *ce_id_out)
    __attribute__((warn_unused_result));

/* One event's row for a statement of the caller's own, so that a state change and its event
 * cost one statement (intake's POST writes its case and its event with one): values, lengths
 * and formats are the seven parameters of OUTBOX_INSERT_SQL's columns in its order, the
 * payload binary (pg_query_bin, pg_pipe_add_bin). */
struct outbox_row {
	char id[IDS_UUID_LEN], now[TSTAMP_LEN];
	const char *values[7];
	int lengths[7], formats[7];
	uint8_t *payload;
};

/* Packs msg into r. Returns 0 (the caller writes the row; the commit that follows wakes the
 * relay; free r with outbox_row_clear), 1 when outbox_defer holds the row instead (the caller
 * writes its statement without it) or -1 when out of memory. ce_id_out as for outbox_add. */
int outbox_row_init(struct outbox_row *r, const char *topic, const char *key, const char *ce_type,
		    const ProtobufCMessage *msg, char *ce_id_out)
    __attribute__((warn_unused_result));
/* Frees what outbox_row_init allocated (a zeroed r too). */
void outbox_row_clear(struct outbox_row *r);

/* One event of outbox_add_set. */
struct outbox_item {
	const char *topic;
	const char *key;
	const char *ce_type;
	const ProtobufCMessage *msg;
};

/* Inserts n events with one statement (in this order, so they are published in it), the same
 * rows as n calls of outbox_add: for work that announces a set at once (the timer firing a
 * batch of clocks). Returns 0 or -1. */
int outbox_add_set(PGconn *c, const struct outbox_item *items, size_t n)
    __attribute__((warn_unused_result));

/* Deferred rows: with outbox_defer(true) this thread's outbox_add and outbox_add_set keep their
 * rows (ids and times drawn at once, as without it) until outbox_defer_flush writes all of them
 * with one statement, in the order they were added; the consumer does that once per batch,
 * before COMMIT, so the events of a batch cost one insert, not one each. outbox_defer(false)
 * forgets the rows not flushed (call it when the transaction is rolled back); no savepoint may
 * be rolled back in between (rows held from before it would survive it). */
void outbox_defer(bool on);
int outbox_defer_flush(PGconn *c) __attribute__((warn_unused_result));

/* How many times a commit that added outbox rows woke this process's relay (for tests). */
unsigned long outbox_wake_count(void);

struct outbox_relay;

/* Starts the relay thread with its own connection. */
struct outbox_relay *outbox_relay_start(const char *conninfo, struct kafka_producer *p,
					int batch_max, char *errstr, size_t errlen);
/* Lets the current batch finish, then joins and frees. */
void outbox_relay_stop(struct outbox_relay *r);

#endif
