#include "outbox.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backoff.h"
#include "ce.h"
#include "log.h"
#include "metrics.h"
#include "pg.h"
#include "tstamp.h"

/* One relay per schema publishes at a time, so events leave in id order even with several
 * instances running (the others take over when it stops). The lock and the batch come in one
 * statement (one round trip less per step): the lock's CTE runs once (a volatile function is
 * not inlined), and without the lock the batch's "l.mine" is a one-time filter, so no row is
 * read or locked. Its last column tells a busy relay from an empty outbox: one row with a NULL
 * id and mine t (empty) or f (another instance holds the lock). */
#define OUTBOX_SELECT_SQL                                                                          \
	"WITH l AS (SELECT pg_try_advisory_xact_lock(hashtext(current_schema() || '.outbox')) AS " \
	"mine) SELECT o.id, o.ce_id, o.ce_type, o.ce_source, o.ce_time, o.topic, o.msg_key, "      \
	"o.payload, l.mine FROM l LEFT JOIN LATERAL (SELECT id, ce_id, ce_type, ce_source, "       \
	"ce_time, topic, msg_key, payload FROM outbox WHERE l.mine AND sent_at IS NULL ORDER BY "  \
	"id LIMIT $1 FOR UPDATE SKIP LOCKED) o ON true ORDER BY o.id"
#define OUTBOX_MARK_SQL "UPDATE outbox SET sent_at = now() WHERE id = ANY($1::bigint[])"
#define OUTBOX_FAIL_SQL "UPDATE outbox SET attempts = attempts + 1 WHERE id = ANY($1::bigint[])"
/* How long an idle relay waits before it looks again without being woken: rows it was not told
 * about (written by another process) go out within it. */
#define OUTBOX_POLL_MS 500
/* How soon a relay that found another instance publishing looks again: that one may have
 * selected its batch before this process's rows committed. */
#define OUTBOX_BUSY_RETRY_MS 20
#define OUTBOX_BACKLOG_SQL   "SELECT count(*) FROM outbox WHERE sent_at IS NULL"
#define OUTBOX_PURGE_SQL     "DELETE FROM outbox WHERE sent_at < now() - interval '7 days'"

static char outbox_src[128] = "/cp";

/* Waking the relay. It used to LISTEN for a NOTIFY from an insert trigger, but a NOTIFY makes
 * PostgreSQL serialise every notifying transaction of the cluster through one lock held until
 * its commit is flushed (async.c, PreCommit_Notify), so no two outbox-writing commits could
 * share a WAL flush: pgbench of intake's own transaction spent most of its time waiting on
 * "Lock: object" and ran 3 to 4 times slower than without the trigger. The rows are written by
 * this process, so the process wakes its relay itself when a transaction that added some
 * commits (pg_add_tx_end_hook); rows from elsewhere wait at most OUTBOX_POLL_MS. */
static pthread_mutex_t outbox_wake_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t outbox_wake_cv;
static pthread_once_t outbox_wake_once = PTHREAD_ONCE_INIT;
static unsigned long outbox_wake_seq;
static __thread bool outbox_pending; /* this thread's open transaction added outbox rows */

/* Rows held back by outbox_defer until outbox_defer_flush: seven owned cells each, in the
 * columns of OUTBOX_SET_SQL. */
enum { OUTBOX_NCOLS = 7 };
static __thread bool outbox_deferring;
static __thread char **outbox_held;
static __thread size_t outbox_held_n, outbox_held_cap;

#define OUTBOX_SET_SQL                                                                             \
	"INSERT INTO outbox (ce_id, ce_type, ce_source, ce_time, topic, msg_key, payload) "        \
	"SELECT i::uuid, t, s, tm, tp, k, decode(p, 'hex') FROM unnest($1::text[], $2::text[], "   \
	"$3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) WITH ORDINALITY AS u (i, t, " \
	"s, tm, tp, k, p, o) ORDER BY o"

struct outbox_relay {
	struct pg_conn pg;
	struct kafka_producer *producer;
	int batch_max;
	pthread_t thread;
	atomic_bool stop;
	double next_gauge;
};

static void outbox_wake_init(void)
{
	pthread_condattr_t a;
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&outbox_wake_cv, &a);
	pthread_condattr_destroy(&a);
}

static void outbox_wake(void)
{
	pthread_once(&outbox_wake_once, outbox_wake_init);
	pthread_mutex_lock(&outbox_wake_mu);
	outbox_wake_seq++;
	pthread_cond_broadcast(&outbox_wake_cv);
	pthread_mutex_unlock(&outbox_wake_mu);
}

static void outbox_tx_end(bool committed)
{
	if (outbox_pending && committed)
		outbox_wake();
	outbox_pending = false;
}

static void outbox_hook_init(void)
{
	if (pg_add_tx_end_hook(outbox_tx_end) != 0)
		log_error("outbox_hook",
			  "no place for the relay's wake-up: rows wait for its poll");
}

/* Every writer of rows registers the hook, so the commit that follows wakes the relay. */
static pthread_once_t outbox_hook_once = PTHREAD_ONCE_INIT;

static unsigned long outbox_wake_now(void)
{
	pthread_mutex_lock(&outbox_wake_mu);
	unsigned long seq = outbox_wake_seq;
	pthread_mutex_unlock(&outbox_wake_mu);
	return seq;
}

unsigned long outbox_wake_count(void)
{
	return outbox_wake_now();
}

/* Waits until a wake-up after seen, or timeout_ms. */
static void outbox_wait_wake(unsigned long seen, int timeout_ms)
{
	pthread_once(&outbox_wake_once, outbox_wake_init);
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&outbox_wake_mu);
	while (outbox_wake_seq == seen &&
	       pthread_cond_timedwait(&outbox_wake_cv, &outbox_wake_mu, &until) == 0)
		;
	pthread_mutex_unlock(&outbox_wake_mu);
}

void outbox_set_source(const char *source)
{
	snprintf(outbox_src, sizeof(outbox_src), "%s", source);
}

const char *outbox_source(void)
{
	return outbox_src;
}

static char *outbox_hex(const ProtobufCMessage *msg);
static int outbox_hold(const char *id, const char *now, const char *topic, const char *key,
		       const char *ce_type, const ProtobufCMessage *msg);

int outbox_add(PGconn *c, const char *topic, const char *key, const char *ce_type,
	       const ProtobufCMessage *msg, char *ce_id_out)
{
	char id[IDS_UUID_LEN], now[TSTAMP_LEN];
	if (outbox_deferring) {
		ids_uuid(id);
		tstamp_format(tstamp_now_ms(), now);
		if (outbox_hold(id, now, topic, key, ce_type, msg) != 0)
			return -1;
		if (ce_id_out)
			memcpy(ce_id_out, id, IDS_UUID_LEN);
		return 0;
	}
	size_t len = protobuf_c_message_get_packed_size(msg);
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		return -1;
	protobuf_c_message_pack(msg, buf);
	ids_uuid(id);
	tstamp_format(tstamp_now_ms(), now);
	pthread_once(&outbox_hook_once, outbox_hook_init);
	const char *params[] = {id, ce_type, outbox_src, now, topic, key, (const char *)buf};
	const int lengths[] = {0, 0, 0, 0, 0, 0, (int)len};
	const int formats[] = {0, 0, 0, 0, 0, 0, 1};
	PGresult *r = pg_query_bin(c, OUTBOX_INSERT_SQL, 7, params, lengths, formats);
	free(buf);
	if (!r)
		return -1;
	PQclear(r);
	outbox_pending = true;
	if (ce_id_out)
		memcpy(ce_id_out, id, IDS_UUID_LEN);
	return 0;
}

int outbox_pipe_add(struct pg_pipe *p, const char *topic, const char *key, const char *ce_type,
		    const ProtobufCMessage *msg, char *ce_id_out)
{
	char id[IDS_UUID_LEN], now[TSTAMP_LEN];
	ids_uuid(id);
	tstamp_format(tstamp_now_ms(), now);
	if (outbox_deferring) {
		if (outbox_hold(id, now, topic, key, ce_type, msg) != 0)
			return -1;
	} else {
		size_t len = protobuf_c_message_get_packed_size(msg);
		uint8_t *buf = malloc(len ? len : 1);
		if (!buf)
			return -1;
		protobuf_c_message_pack(msg, buf);
		pthread_once(&outbox_hook_once, outbox_hook_init);
		const char *params[] = {id,    ce_type, outbox_src,	  now,
					topic, key,	(const char *)buf};
		const int lengths[] = {0, 0, 0, 0, 0, 0, (int)len};
		const int formats[] = {0, 0, 0, 0, 0, 0, 1};
		int i = pg_pipe_add_bin(p, OUTBOX_INSERT_SQL, 7, params, lengths, formats);
		free(buf);
		if (i < 0)
			return -1;
		/* the commit that follows wakes the relay; a failed run ends with a rollback, whose
		 * hook clears this */
		outbox_pending = true;
	}
	if (ce_id_out)
		memcpy(ce_id_out, id, IDS_UUID_LEN);
	return 0;
}

int outbox_row_init(struct outbox_row *r, const char *topic, const char *key, const char *ce_type,
		    const ProtobufCMessage *msg, char *ce_id_out)
{
	memset(r, 0, sizeof(*r));
	ids_uuid(r->id);
	tstamp_format(tstamp_now_ms(), r->now);
	if (ce_id_out)
		memcpy(ce_id_out, r->id, IDS_UUID_LEN);
	if (outbox_deferring)
		return outbox_hold(r->id, r->now, topic, key, ce_type, msg) != 0 ? -1 : 1;
	size_t len = protobuf_c_message_get_packed_size(msg);
	if (!(r->payload = malloc(len ? len : 1)))
		return -1;
	protobuf_c_message_pack(msg, r->payload);
	pthread_once(&outbox_hook_once, outbox_hook_init);
	const char *v[] = {
	    r->id, ce_type, outbox_src, r->now, topic, key, (const char *)r->payload};
	memcpy(r->values, v, sizeof(v));
	r->lengths[6] = (int)len;
	r->formats[6] = 1;
	/* as in outbox_pipe_add: the commit wakes the relay, a rollback's hook clears this */
	outbox_pending = true;
	return 0;
}

void outbox_row_clear(struct outbox_row *r)
{
	free(r->payload);
	r->payload = NULL;
}

/* The packed message as hex text (the payload column is bytea; one text[] carries them all). */
static char *outbox_hex(const ProtobufCMessage *msg)
{
	static const char digits[] = "0123456789abcdef";
	size_t len = protobuf_c_message_get_packed_size(msg);
	uint8_t *buf = malloc(len ? len : 1);
	char *hex = malloc(2 * len + 1);
	if (buf && hex) {
		protobuf_c_message_pack(msg, buf);
		for (size_t i = 0; i < len; i++) {
			hex[2 * i] = digits[buf[i] >> 4];
			hex[2 * i + 1] = digits[buf[i] & 15];
		}
		hex[2 * len] = '\0';
	}
	free(buf);
	if (!buf) {
		free(hex);
		return NULL;
	}
	return hex;
}

/* Keeps a row for outbox_defer_flush. */
static int outbox_hold(const char *id, const char *now, const char *topic, const char *key,
		       const char *ce_type, const ProtobufCMessage *msg)
{
	if (outbox_held_n == outbox_held_cap) {
		size_t cap = outbox_held_cap ? 2 * outbox_held_cap : 64;
		char **more = realloc(outbox_held, cap * OUTBOX_NCOLS * sizeof(*more));
		if (!more)
			return -1;
		outbox_held = more;
		outbox_held_cap = cap;
	}
	char **row = outbox_held + outbox_held_n * OUTBOX_NCOLS;
	const char *text[] = {id, ce_type, outbox_src, now, topic, key};
	size_t i = 0;
	for (; i < 6; i++)
		if (!(row[i] = strdup(text[i] ? text[i] : "")))
			break;
	if (i == 6 && (row[6] = outbox_hex(msg)) != NULL) {
		outbox_held_n++;
		return 0;
	}
	while (i > 0)
		free(row[--i]);
	return -1;
}

static void outbox_held_clear(void)
{
	for (size_t i = 0; i < outbox_held_n * OUTBOX_NCOLS; i++)
		free(outbox_held[i]);
	outbox_held_n = 0;
}

void outbox_defer(bool on)
{
	if (!on)
		outbox_held_clear();
	outbox_deferring = on;
}

int outbox_defer_flush(PGconn *c)
{
	if (outbox_held_n == 0)
		return 0;
	pthread_once(&outbox_hook_once, outbox_hook_init);
	PGresult *r = pg_query_columns(c, "cp_outbox_add_set", OUTBOX_SET_SQL, OUTBOX_NCOLS,
				       outbox_held_n, (const char *const *)outbox_held);
	PQclear(r);
	if (!r)
		return -1;
	outbox_pending = true;
	outbox_held_clear();
	return 0;
}

int outbox_add_set(PGconn *c, const struct outbox_item *items, size_t n)
{
	enum { NCOLS = OUTBOX_NCOLS };
	if (n == 0)
		return 0;
	if (outbox_deferring) {
		char id[IDS_UUID_LEN], now[TSTAMP_LEN];
		tstamp_format(tstamp_now_ms(), now);
		for (size_t i = 0; i < n; i++) {
			ids_uuid(id);
			if (outbox_hold(id, now, items[i].topic, items[i].key, items[i].ce_type,
					items[i].msg) != 0)
				return -1;
		}
		return 0;
	}
	const char **cells = calloc(n * NCOLS, sizeof(*cells));
	char(*ids)[IDS_UUID_LEN] = malloc(n * sizeof(*ids)), now[TSTAMP_LEN];
	int rc = -1;
	size_t done = 0;
	if (!cells || !ids)
		goto failed;
	pthread_once(&outbox_hook_once, outbox_hook_init);
	tstamp_format(tstamp_now_ms(), now);
	for (; done < n; done++) {
		const char **row = cells + done * NCOLS;
		ids_uuid(ids[done]);
		row[0] = ids[done];
		row[1] = items[done].ce_type;
		row[2] = outbox_src;
		row[3] = now;
		row[4] = items[done].topic;
		row[5] = items[done].key;
		if (!(row[6] = outbox_hex(items[done].msg)))
			goto failed;
	}
	PGresult *r = pg_query_columns(c, "cp_outbox_add_set", OUTBOX_SET_SQL, NCOLS, n, cells);
	rc = r ? 0 : -1;
	outbox_pending |= rc == 0;
	PQclear(r);
failed:
	for (size_t i = 0; cells && i < done; i++)
		free((char *)cells[i * NCOLS + 6]);
	free(cells);
	free(ids);
	return rc;
}

static void outbox_update_gauge(struct outbox_relay *r, PGconn *c)
{
	double now = tstamp_mono();
	if (now < r->next_gauge)
		return;
	r->next_gauge = now + 5;
	PGresult *res = pg_query(c, OUTBOX_BACKLOG_SQL, 0, NULL);
	if (res) {
		metrics_set(
		    metrics_gauge("cp_outbox_backlog", "Outbox events not yet published.", NULL),
		    atof(pg_value(res, 0, 0, "0")));
		PQclear(res);
	}
	if (pg_exec(c, OUTBOX_PURGE_SQL, 0, NULL) != 0)
		log_warn("outbox_purge", "cannot purge sent outbox rows");
}

static int outbox_produce_row(struct outbox_relay *r, PGresult *res, int row,
			      struct kafka_dr_slot *slot)
{
	struct ce_meta ce;
	char errstr[256];
	size_t len = 0;
	snprintf(ce.id, sizeof(ce.id), "%s", PQgetvalue(res, row, 1));
	snprintf(ce.type, sizeof(ce.type), "%s", PQgetvalue(res, row, 2));
	snprintf(ce.source, sizeof(ce.source), "%s", PQgetvalue(res, row, 3));
	snprintf(ce.time, sizeof(ce.time), "%s", PQgetvalue(res, row, 4));
	unsigned char *payload =
	    PQunescapeBytea((const unsigned char *)PQgetvalue(res, row, 7), &len);
	rd_kafka_headers_t *h = rd_kafka_headers_new(6);
	int rc = -1;
	if (payload && ce_headers_add(h, &ce) == 0)
		rc = kafka_produce(r->producer, PQgetvalue(res, row, 5), PQgetvalue(res, row, 6),
				   payload, len, h, slot, errstr, sizeof(errstr));
	if (rc != 0) {
		rd_kafka_headers_destroy(h);
		log_msg(LOG_WARN, "outbox_produce", LOG_KV({"ce_id", ce.id}), "%s",
			payload ? errstr : "payload unreadable");
	}
	PQfreemem(payload);
	return rc;
}

/* Appends ids[i] to one of two PostgreSQL array literals by outcome. */
static void outbox_sort_ids(PGresult *res, struct kafka_dr_slot *slots, bool *produced, int n,
			    char *ok, char *bad, size_t cap)
{
	size_t lo = 1, lb = 1;
	ok[0] = bad[0] = '{';
	for (int i = 0; i < n; i++) {
		bool good = produced[i] && slots[i].done && !slots[i].err;
		char *dst = good ? ok : bad;
		size_t *l = good ? &lo : &lb;
		*l += (size_t)snprintf(dst + *l, cap - *l, "%s%s", *l > 1 ? "," : "",
				       PQgetvalue(res, i, 0));
	}
	snprintf(ok + lo, cap - lo, "}");
	snprintf(bad + lb, cap - lb, "}");
}

/* Publishes the batch's n rows and queues their marks (sent, or one more attempt) on p. */
static int outbox_publish(struct outbox_relay *r, struct pg_pipe *p, PGresult *res, int n)
{
	struct kafka_dr dr;
	struct kafka_dr_slot *slots = calloc((size_t)n, sizeof(*slots));
	bool *produced = calloc((size_t)n, sizeof(bool));
	size_t cap = (size_t)n * 24 + 8;
	char *ok = malloc(cap), *bad = malloc(cap);
	int rc = -1;
	if (!slots || !produced || !ok || !bad)
		goto out;
	kafka_dr_init(&dr);
	for (int i = 0; i < n; i++) {
		slots[i].group = &dr;
		produced[i] = outbox_produce_row(r, res, i, &slots[i]) == 0;
	}
	/* Slots must outlive their reports: message.timeout.ms bounds this wait. Sent at once,
	 * not after linger.ms: the batch is complete. */
	double t0 = tstamp_mono();
	while (kafka_dr_send_wait(r->producer, &dr, 1000) > 0)
		;
	metrics_observe(metrics_histogram("cp_outbox_ack_seconds",
					  "Time from a batch's produce to the broker's last "
					  "acknowledgement.",
					  NULL, NULL, 0),
			tstamp_mono() - t0);
	outbox_sort_ids(res, slots, produced, n, ok, bad, cap);
	const char *p_ok[] = {ok}, *p_bad[] = {bad};
	pg_pipe_add(p, OUTBOX_MARK_SQL, 1, p_ok);
	if (strcmp(bad, "{}") != 0)
		pg_pipe_add(p, OUTBOX_FAIL_SQL, 1, p_bad);
	rc = 0;
	kafka_dr_destroy(&dr);
out:
	free(slots);
	free(produced);
	free(ok);
	free(bad);
	return rc;
}

/* outbox_step's answer when another instance holds the schema's relay lock. */
#define OUTBOX_BUSY (-2)

/* One relay step in two network flights (pg_pipe): BEGIN with the lock and the batch, then
 * (after the deliveries) the marks with COMMIT. Returns the number of rows published,
 * OUTBOX_BUSY, -1 on error. */
static int outbox_step(struct outbox_relay *r, PGconn *c)
{
	char limit[16];
	snprintf(limit, sizeof(limit), "%d", r->batch_max);
	const char *params[] = {limit};
	struct pg_pipe p, marks;
	int n = -1;
	pg_pipe_init(&p);
	pg_pipe_init(&marks);
	pg_pipe_begin(&p);
	int at = pg_pipe_add(&p, OUTBOX_SELECT_SQL, 1, params);
	if (pg_pipe_run(c, &p) != 0)
		goto failed;
	PGresult *res = pg_pipe_result(&p, at);
	n = PQntuples(res);
	if (n == 1 && PQgetisnull(res, 0, 0)) {
		n = PQgetvalue(res, 0, 8)[0] == 't' ? 0 : OUTBOX_BUSY;
		if (n == OUTBOX_BUSY)
			goto failed; /* not an error: nothing to commit */
	}
	double t0 = tstamp_mono();
	if (n > 0 && outbox_publish(r, &marks, res, n) != 0) {
		n = -1;
		goto failed;
	}
	pg_pipe_commit(&marks);
	if (pg_pipe_run(c, &marks) != 0) /* rolled back if it failed */
		n = -1;
	else if (n > 0)
		metrics_observe(metrics_histogram("cp_outbox_batch_seconds",
						  "Time to publish one outbox batch.", NULL, NULL,
						  0),
				tstamp_mono() - t0);
	pg_pipe_clear(&marks);
	pg_pipe_clear(&p);
	return n;
failed:
	pg_pipe_clear(&marks);
	pg_pipe_clear(&p);
	pg_rollback(c);
	return n;
}

static void *outbox_main(void *arg)
{
	struct outbox_relay *r = arg;
	struct backoff bo;
	backoff_init(&bo, 100, 1000);
	while (!atomic_load(&r->stop)) {
		PGconn *c = pg_conn_get(&r->pg);
		if (!c) {
			backoff_sleep(&bo);
			continue;
		}
		/* read before the step: a commit during it wakes the wait below at once */
		unsigned long seen = outbox_wake_now();
		int n = outbox_step(r, c);
		if (n == -1) {
			pg_conn_reset(&r->pg);
			backoff_sleep(&bo); /* a broker outage must not spin the relay */
			continue;
		}
		backoff_reset(&bo);
		outbox_update_gauge(r, c);
		if (n == OUTBOX_BUSY) {
			struct timespec ts = {0, OUTBOX_BUSY_RETRY_MS * 1000000L};
			nanosleep(&ts, NULL);
		} else if (n < r->batch_max)
			outbox_wait_wake(seen, OUTBOX_POLL_MS);
	}
	return NULL;
}

struct outbox_relay *outbox_relay_start(const char *conninfo, struct kafka_producer *p,
					int batch_max, char *errstr, size_t errlen)
{
	struct outbox_relay *r = calloc(1, sizeof(*r));
	if (!r || pg_conn_init(&r->pg, conninfo, "outbox") != 0) {
		snprintf(errstr, errlen, "out of memory");
		free(r);
		return NULL;
	}
	r->producer = p;
	r->batch_max = batch_max;
	pthread_once(&outbox_wake_once, outbox_wake_init);
	pthread_once(&outbox_hook_once, outbox_hook_init);
	if (pthread_create(&r->thread, NULL, outbox_main, r) != 0) {
		snprintf(errstr, errlen, "cannot start the outbox relay thread");
		pg_conn_release(&r->pg);
		free(r);
		return NULL;
	}
	return r;
}

void outbox_relay_stop(struct outbox_relay *r)
{
	if (!r)
		return;
	atomic_store(&r->stop, true);
	outbox_wake();
	pthread_join(r->thread, NULL);
	pg_conn_release(&r->pg);
	free(r);
}
