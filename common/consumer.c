#include "consumer.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include "backoff.h"
#include "evcheck.h"
#include "inbox.h"
#include "log.h"
#include "metrics.h"
#include "outbox.h"
#include "pg.h"
#include "topics.h"
#include "tstamp.h"

enum item_state { ITEM_APPLY, ITEM_SKIP, ITEM_REJECT };

/* Tries of one event that fails for a non-transient reason before it is dead-lettered. */
#define CONSUMER_ATTEMPTS 3

struct item {
	rd_kafka_message_t *msg;
	const struct consumer_handler *h;
	struct ce_meta ce;
	struct ce_data data; /* the protobuf bytes: the value, or decoded from a JSON envelope */
	ProtobufCMessage *pb;
	char key[128];
	enum item_state state;
	char reason[256];
	int attempts;
	bool done;	/* applied by this try of the batch (in a set or one by one) */
	size_t set_tag; /* in a set: 1 + the index of the set's first item (this try) */
	bool claimed;	/* fast path: inbox claimed (and ids checked) for the whole batch */
	bool duplicate; /* fast path: the batch's claim found it applied before */
};

/* A partition of the batch in hand: its first and last offset in the batch. */
struct consumer_held {
	const rd_kafka_topic_t *rkt; /* compared only: the name is copied */
	char topic[96];
	int32_t partition;
	int64_t first, last;
};

struct consumer {
	struct consumer_def def;
	char group[128]; /* def.group points here: the caller's string need not outlive the call */
	struct kafka_consumer *kc;
	struct kafka_producer *dlq;
	struct pg_conn pg;
	pthread_t thread;
	atomic_bool stop;
	struct item *items;
	struct consumer_set_item *set; /* batch_max each: the current set and its items' indexes */
	size_t *set_idx;
	const struct consumer_set_handler **set_of; /* per handler: its set side or NULL */
	bool *touched; /* per handler: events applied in this try of the batch (for batch_end) */
	bool *named;   /* per handler: its message names a complaint (id and number) */
	struct consumer_chunk *arena; /* the batch's decoded messages */
	ProtobufCAllocator pb_alloc;
	/* The stall watch (consumer_stall), read by other threads: a consumer stuck in its batch
	 * cannot say so itself (it may wait inside a statement on a locked table), so it notes
	 * when it took the batch and each failed try, and /readyz and /metrics do the arithmetic.
	 */
	pthread_mutex_t stall_lock;
	double batch_since; /* tstamp_mono() when the batch in hand was taken; 0: none in hand */
	size_t batch_events;
	int batch_tries;      /* failed tries of the batch in hand */
	char batch_error[12]; /* the last failed try's SQLSTATE, "connection" when none */
	/* the batch's partitions: batch_max entries, one per message at most (a fixed 16 left
	 * the lag of a batch's further partitions uncounted: intake alone reads 7 topics) */
	struct consumer_held *held;
	size_t nheld;
	bool lag_held; /* cp_consumer_lag was set from the held batch (consumer_stall_lag) */
	struct metric *retries; /* cp_consumer_batch_retries_total{group} */
};

/* The decoded messages of one batch live in an arena: protobuf-c allocates every string and
 * sub-message of a message on its own (a TrackingEvent is about twenty allocations), and
 * malloc/free of those were the largest part of the tracking consumers' own CPU per scan in
 * the make bench profile. Allocation bumps a pointer; nothing is freed until the batch is
 * released, then the arena is emptied and keeps one chunk for the next batch. */
struct consumer_chunk {
	struct consumer_chunk *next;
	size_t used, cap;
	max_align_t data[];
};

#define CONSUMER_CHUNK_MIN (256 * 1024)

static void *consumer_arena_alloc(void *arg, size_t size)
{
	struct consumer_chunk **head = arg, *c = *head;
	size = (size + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
	if (!c || c->cap - c->used < size) {
		size_t cap = size > CONSUMER_CHUNK_MIN ? size : CONSUMER_CHUNK_MIN;
		struct consumer_chunk *grown = malloc(sizeof(*grown) + cap);
		if (!grown)
			return NULL;
		grown->next = c;
		grown->used = 0;
		grown->cap = cap;
		*head = c = grown;
	}
	void *p = (char *)c->data + c->used;
	c->used += size;
	return p;
}

static void consumer_arena_free(void *arg, void *p)
{
	/* freed with the whole arena at the end of the batch */
}

/* Empties the arena; keeps the newest chunk when it has the ordinary size (a batch of large
 * messages does not hold its memory afterwards). */
static void consumer_arena_reset(struct consumer_chunk **head)
{
	struct consumer_chunk *keep = *head;
	if (keep && keep->cap > CONSUMER_CHUNK_MIN)
		keep = NULL;
	for (struct consumer_chunk *c = *head, *next; c; c = next) {
		next = c->next;
		if (c != keep)
			free(c);
	}
	if (keep) {
		keep->next = NULL;
		keep->used = 0;
	}
	*head = keep;
}

static void consumer_count(const char *name, const char *help, const char *topic, double n)
{
	char labels[160];
	snprintf(labels, sizeof(labels), "topic=\"%s\"", topic);
	metrics_add(metrics_counter(name, help, labels), n);
}

static const struct consumer_handler *consumer_find(const struct consumer *c, const char *topic,
						    const char *type)
{
	for (size_t i = 0; i < c->def.nhandlers; i++) {
		const struct consumer_handler *h = &c->def.handlers[i];
		if (strcmp(h->topic, topic) == 0 && (!h->ce_type || strcmp(h->ce_type, type) == 0))
			return h;
	}
	return NULL;
}

static void consumer_reject(struct item *it, const char *fmt, const char *detail)
{
	it->state = ITEM_REJECT;
	snprintf(it->reason, sizeof(it->reason), fmt, detail);
}

/* Headers, size, decode and validation: everything that needs no database. */
static void consumer_prepare(struct consumer *c, struct item *it)
{
	rd_kafka_message_t *m = it->msg;
	char err[200] = "";
	size_t klen = m->key_len < sizeof(it->key) - 1 ? m->key_len : sizeof(it->key) - 1;
	memcpy(it->key, m->key ? m->key : "", m->key ? klen : 0);
	it->key[m->key ? klen : 0] = '\0';
	it->state = ITEM_APPLY;
	if (m->len > CONSUMER_MAX_PAYLOAD)
		return consumer_reject(it, "payload too large (%s)", "over 1 MiB");
	if (ce_message_read(m, &it->ce, &it->data, err, sizeof(err)) != 0)
		return consumer_reject(it, "cloudevents: %s", err);
	it->h = consumer_find(c, rd_kafka_topic_name(m->rkt), it->ce.type);
	if (!it->h) {
		it->state = ITEM_SKIP;
		return;
	}
	it->pb = protobuf_c_message_unpack(it->h->desc, &c->pb_alloc, it->data.len, it->data.ptr);
	if (!it->pb)
		return consumer_reject(it, "protobuf: cannot decode %s", it->h->desc->name);
	if (evcheck_message(it->pb, err, sizeof(err)) != 0)
		return consumer_reject(it, "invalid event: %s", err);
	if (it->h->validate && it->h->validate(it->pb, err, sizeof(err)) != 0)
		return consumer_reject(it, "invalid event: %s", err);
}

/* 42501 is retried, not dead-lettered: a revoked grant made every event of the service fail
 * alike, and each was dead-lettered after its three tries (a service's whole stream to replay
 * by hand); retried, the consumer holds its batch, /readyz and cp_consumer_stalled_seconds
 * say so, and it goes on where it stopped once the grant is back. */
bool consumer_sqlstate_transient(const char *sqlstate)
{
	return sqlstate[0] == '\0' || strncmp(sqlstate, "08", 2) == 0 ||
	       strncmp(sqlstate, "40", 2) == 0 || strncmp(sqlstate, "53", 2) == 0 ||
	       strncmp(sqlstate, "57", 2) == 0 || strcmp(sqlstate, "42501") == 0;
}

int consumer_ids_check(PGconn *c, const struct consumer_ids *ids, const ProtobufCMessage *m,
		       char *err, size_t errlen)
{
	const char *id, *no;
	char sql[400];
	if (!ids)
		return 0;
	evcheck_ids(m, &id, &no);
	if (!id)
		return 0;
	/* the table and column names are the service's constants, never event data */
	snprintf(sql, sizeof(sql),
		 "SELECT %s::text, complaint_no FROM %s WHERE (%s = $1::uuid AND complaint_no <> "
		 "$2) OR (complaint_no = $2 AND %s <> $1::uuid) LIMIT 1",
		 ids->id_col, ids->table, ids->id_col, ids->id_col);
	const char *p[] = {id, no};
	PGresult *r = pg_query(c, sql, 2, p);
	if (!r)
		return -1;
	int rc = 0;
	if (PQntuples(r) > 0) {
		if (strcmp(PQgetvalue(r, 0, 0), id) == 0)
			snprintf(err, errlen, "complaint %s is %.40s, not %.40s", id,
				 PQgetvalue(r, 0, 1), no);
		else
			snprintf(err, errlen, "complaint_no %.40s belongs to complaint %s, not %s",
				 no, PQgetvalue(r, 0, 0), id);
		rc = 1;
	}
	PQclear(r);
	return rc;
}

static int consumer_apply_handler(struct consumer *c, PGconn *pg, struct item *it);

/* Applies one item on the open transaction: 0 applied or duplicate, -1 failed. */
static int consumer_apply_one(struct consumer *c, PGconn *pg, struct item *it)
{
	const char *topic = rd_kafka_topic_name(it->msg->rkt);
	const struct consumer_set_handler *sh = c->set_of[it->h - c->def.handlers];
	int fresh = sh && sh->no_inbox ? 1 : inbox_claim(pg, it->ce.source, it->ce.id, topic);
	if (fresh < 0)
		return -1;
	if (fresh == 0) {
		consumer_count("cp_duplicates_total", "Events skipped as already applied.", topic,
			       1);
		return 0;
	}
	char err[200] = "";
	int collide = consumer_ids_check(pg, c->def.ids, it->pb, err, sizeof(err));
	if (collide != 0) {
		if (collide > 0)
			consumer_reject(it, "invalid event: %s", err);
		return -1;
	}
	return consumer_apply_handler(c, pg, it);
}

/* The handler's apply for one fresh event: 0 applied, -1 failed (a reject marks the item). */
static int consumer_apply_handler(struct consumer *c, PGconn *pg, struct item *it)
{
	char err[200] = "";
	/* whatever the handler logs names the event it applies */
	log_context_set("ce_id", it->ce.id[0] ? it->ce.id : NULL);
	int rc = it->h->apply(pg, &it->ce, it->key, it->pb, err, sizeof(err), c->def.arg);
	log_context_set("ce_id", NULL);
	if (rc == CONSUMER_REJECT) {
		consumer_reject(it, "rejected: %s", err);
		return -1;
	}
	return rc;
}

/* Applies one item under a savepoint, so a failing event costs only itself: a non-transient
 * failure (a unique key, a check, a handler's reject) rolls back to the savepoint and the item
 * is tried again up to CONSUMER_ATTEMPTS times, then dead-lettered with the reason, while the
 * rest of the batch goes on in the same transaction. Returns 0 when the item is settled
 * (applied, duplicate or rejected), -1 on a transient failure (connection, serialization,
 * deadlock, shutdown): then the whole batch is rolled back and retried after a back-off. */
static int consumer_apply_isolated(struct consumer *c, PGconn *pg, struct item *it)
{
	while (it->state == ITEM_APPLY) {
		if (pg_exec(pg, "SAVEPOINT cp_consumer_item", 0, NULL) != 0)
			return -1;
		if (consumer_apply_one(c, pg, it) == 0)
			return pg_exec(pg, "RELEASE SAVEPOINT cp_consumer_item", 0, NULL);
		if (it->state != ITEM_REJECT && consumer_sqlstate_transient(pg_last_sqlstate()))
			return -1;
		char reason[200];
		snprintf(reason, sizeof(reason), "%s", pg_last_error());
		if (pg_exec(pg, "ROLLBACK TO SAVEPOINT cp_consumer_item", 0, NULL) != 0)
			return -1;
		if (it->state == ITEM_APPLY && ++it->attempts >= CONSUMER_ATTEMPTS)
			consumer_reject(it, "apply failed: %s", reason);
	}
	return 0;
}

/* The inbox claims of a set in one statement: the first of the set's events with each
 * (ce_source, ce_id) that is not in the inbox yet is fresh; the others are duplicates. Keeps
 * the fresh ones in idx (in order) and returns how many, or -1 on a database error. */
static ssize_t consumer_claim_set(PGconn *pg, struct item *items, size_t *idx, size_t k)
{
	static const char sql[] =
	    "WITH u AS (SELECT DISTINCT ON (s, i) s, i, t, o FROM unnest($1::text[], $2::text[], "
	    "$3::text[]) WITH ORDINALITY AS u (s, i, t, o) ORDER BY s, i, o), "
	    "n AS (INSERT INTO inbox (ce_source, ce_id, topic) SELECT s, i, t FROM u "
	    "ON CONFLICT DO NOTHING RETURNING ce_source, ce_id) "
	    "SELECT u.o FROM u JOIN n ON n.ce_source = u.s AND n.ce_id = u.i ORDER BY u.o";
	const char **cells = malloc(3 * k * sizeof(*cells));
	if (!cells)
		return -1;
	for (size_t j = 0; j < k; j++) {
		struct item *it = &items[idx[j]];
		cells[3 * j] = it->ce.source;
		cells[3 * j + 1] = it->ce.id;
		cells[3 * j + 2] = rd_kafka_topic_name(it->msg->rkt);
	}
	PGresult *r = pg_query_columns(pg, "cp_consumer_claim_set", sql, 3, k, cells);
	free(cells);
	if (!r)
		return -1;
	size_t fresh = 0;
	for (int row = 0; row < PQntuples(r); row++) /* ordinals are 1-based, ascending */
		idx[fresh++] = idx[strtoul(PQgetvalue(r, row, 0), NULL, 10) - 1];
	PQclear(r);
	return (ssize_t)fresh;
}

static bool consumer_ids_conflict_in_batch(const struct item *items, const size_t *idx, size_t k);
static int consumer_ids_check_set(struct consumer *c, PGconn *pg, struct item *items,
				  const size_t *idx, size_t k);

/* The id<->number check of a set's fresh events (the set's first `fresh` entries of set_idx),
 * against the projection as it is now and among themselves: complaint events name their
 * complaint as the one-event path's check does. 0 none collides, 1 one may (the set goes the
 * one-event way, which names the event), -1 database error. */
static int consumer_ids_check_fresh_set(struct consumer *c, PGconn *pg, struct item *items,
					ssize_t fresh)
{
	/* a set's events share their handler: scans name no complaint, nothing to check */
	if (!c->def.ids || !c->named[items[c->set_idx[0]].h - c->def.handlers])
		return 0;
	if (consumer_ids_conflict_in_batch(items, c->set_idx, (size_t)fresh))
		return 1;
	return consumer_ids_check_set(c, pg, items, c->set_idx, (size_t)fresh);
}

/* Claims and applies the set under a savepoint. Returns 0 applied, 1 failed for a reason
 * that is not transient (rolled back to the savepoint), -1 transient (the batch is retried). */
static int consumer_try_set(struct consumer *c, PGconn *pg, struct item *items, size_t k)
{
	const struct consumer_handler *h = items[c->set_idx[0]].h;
	const struct consumer_set_handler *sh = c->set_of[h - c->def.handlers];
	const char *topic = h->topic;
	char err[200] = "";
	if (pg_exec(pg, "SAVEPOINT cp_consumer_set", 0, NULL) != 0)
		return -1;
	ssize_t fresh = sh->no_inbox ? (ssize_t)k : consumer_claim_set(pg, items, c->set_idx, k);
	int rc = fresh < 0 ? -1 : 0;
	for (ssize_t j = 0; j < fresh; j++) {
		struct item *it = &items[c->set_idx[j]];
		c->set[j] = (struct consumer_set_item){&it->ce, it->key, it->pb};
	}
	if (rc == 0 && fresh > 0 && (rc = consumer_ids_check_fresh_set(c, pg, items, fresh)) > 0)
		snprintf(err, sizeof(err), "a complaint's id and number may collide");
	/* the set's outbox rows as one insert too; held no longer than its savepoint */
	outbox_defer(true);
	if (rc == 0 && fresh > 0)
		rc = sh->apply_set(pg, c->set, (size_t)fresh, err, sizeof(err), c->def.arg);
	if (rc == 0)
		rc = outbox_defer_flush(pg);
	outbox_defer(false);
	if (rc == 0) {
		consumer_count("cp_consumer_set_events_total",
			       "Events applied as part of a set (set-based apply).", topic,
			       (double)fresh);
		if (fresh < (ssize_t)k)
			consumer_count("cp_duplicates_total", "Events skipped as already applied.",
				       topic, (double)(k - (size_t)fresh));
		return pg_exec(pg, "RELEASE SAVEPOINT cp_consumer_set", 0, NULL);
	}
	if (rc < 0 && consumer_sqlstate_transient(pg_last_sqlstate()))
		return -1;
	log_warn("consumer_set_failed", "%s: %zu events applied one by one: %s", topic, k,
		 err[0] ? err : pg_last_error());
	consumer_count("cp_consumer_set_fallbacks_total",
		       "Sets applied one event at a time after a non-transient failure.", topic, 1);
	if (pg_exec(pg, "ROLLBACK TO SAVEPOINT cp_consumer_set", 0, NULL) != 0 ||
	    pg_exec(pg, "RELEASE SAVEPOINT cp_consumer_set", 0, NULL) != 0)
		return -1;
	return 1;
}

/* Whether items[j] must wait for an earlier pending event of another handler about the same
 * thing (the same message key or the same complaint): a complaint's received, classified and
 * assigned events may share a topic (one handler each), and the one-event path applies them
 * in the batch's order. Events of other keys and complaints are independent. */
static bool consumer_set_blocked(const struct item *items, size_t first, size_t j)
{
	const char *id, *no, *xid;
	evcheck_ids(items[j].pb, &id, &no);
	for (size_t i = first; i < j; i++) {
		const struct item *x = &items[i];
		if (x->h == items[j].h || x->state != ITEM_APPLY || x->done)
			continue;
		if (items[j].key[0] && strcmp(x->key, items[j].key) == 0)
			return true;
		evcheck_ids(x->pb, &xid, &no);
		if (id && xid && strcmp(id, xid) == 0)
			return true;
	}
	return false;
}

/* Applies every pending item of the batch handled by the same set-capable handler as
 * items[first], as one set, but for the events that wait for an earlier event of another
 * handler about the same key or complaint (consumer_set_blocked: they join a later set); the
 * batch's events of other topics keep their order (Kafka orders events within a partition,
 * never across topics). On a non-transient failure the set's items go the one-event way, each
 * under its own savepoint. Returns 0 or -1 (transient). */
static int consumer_apply_set(struct consumer *c, PGconn *pg, struct item *items, size_t first,
			      size_t n)
{
	const struct consumer_handler *h = items[first].h;
	size_t k = 0, other = first;
	/* only an event after the first pending one of another handler can wait: a batch of one
	 * kind (a carrier's scans) skips the pairwise look, quadratic in the batch (in make
	 * bench's perf profile consumer_apply_batch, where it is inlined, and its strcmp were
	 * intake's and classification's top symbols) */
	while (other < n &&
	       (items[other].h == h || items[other].state != ITEM_APPLY || items[other].done))
		other++;
	for (size_t j = first; j < n; j++) {
		if (items[j].h == h && items[j].state == ITEM_APPLY && !items[j].done &&
		    (j < other || !consumer_set_blocked(items, other, j))) {
			items[j].done = true;
			items[j].set_tag = first + 1;
			c->set_idx[k++] = j;
		}
	}
	int rc = consumer_try_set(c, pg, items, k);
	if (rc <= 0)
		return rc;
	/* this set's items only (the claim compacted set_idx to the fresh ones): an item of an
	 * earlier set of the same handler may come after this one's first, and is applied */
	for (size_t j = first; j < n; j++) {
		if (items[j].h == h && items[j].done && items[j].set_tag == first + 1 &&
		    consumer_apply_isolated(c, pg, &items[j]) != 0)
			return -1;
	}
	return 0;
}

/* Whether the item goes the one-event way (not as part of a set) and claims an inbox row. */
static bool consumer_one_event(const struct consumer *c, const struct item *it, bool *inbox)
{
	const struct consumer_set_handler *sh = c->set_of[it->h - c->def.handlers];
	*inbox = !(sh && sh->no_inbox);
	return !(c->def.set_apply && sh && sh->apply_set);
}

/* True when two fresh events of the batch disagree on a complaint's id and number: the first
 * would write the pair the second then collides with, which only the one-event check (after
 * the first is applied) sees. */
static bool consumer_ids_conflict_in_batch(const struct item *items, const size_t *idx, size_t k)
{
	for (size_t a = 0; a < k; a++) {
		const char *ia, *na;
		evcheck_ids(items[idx[a]].pb, &ia, &na);
		for (size_t b = a + 1; ia && b < k; b++) {
			const char *ib, *nb;
			evcheck_ids(items[idx[b]].pb, &ib, &nb);
			if (ib && (strcmp(ia, ib) == 0) != (strcmp(na, nb) == 0))
				return true;
		}
	}
	return false;
}

/* The consumer_ids_check of k fresh events in one statement, against the projection as it was
 * before the batch. 0 none collides, 1 one may (the batch goes the one-event way, which names
 * the event), -1 database error. */
static int consumer_ids_check_set(struct consumer *c, PGconn *pg, struct item *items,
				  const size_t *idx, size_t k)
{
	const struct consumer_ids *ids = c->def.ids;
	if (!ids || k == 0)
		return 0;
	const char **cells = malloc(2 * k * sizeof(*cells));
	size_t m = 0;
	if (!cells)
		return -1;
	for (size_t j = 0; j < k; j++) {
		const char *id, *no;
		evcheck_ids(items[idx[j]].pb, &id, &no);
		if (id) {
			cells[2 * m] = id;
			cells[2 * m + 1] = no;
			m++;
		}
	}
	int rc = 0;
	if (m > 0) {
		char sql[700];
		/* the table and column names are the service's constants, never event data. Two
		 * joins, each on its own index (id, number): an OR inside one EXISTS made
		 * PostgreSQL scan the whole table for every event (23 ms per complaint in make
		 * bench) */
		snprintf(sql, sizeof(sql),
			 "(SELECT 1 FROM unnest($1::text[], $2::text[]) AS u (i, n) JOIN %s t ON "
			 "t.%s = u.i::uuid WHERE t.complaint_no <> u.n LIMIT 1) UNION ALL "
			 "(SELECT 1 FROM unnest($1::text[], $2::text[]) AS u (i, n) JOIN %s t ON "
			 "t.complaint_no = u.n WHERE t.%s <> u.i::uuid LIMIT 1)",
			 ids->table, ids->id_col, ids->table, ids->id_col);
		PGresult *r = pg_query_columns(pg, "cp_consumer_ids_set", sql, 2, m, cells);
		rc = !r ? -1 : PQntuples(r) > 0 ? 1 : 0;
		PQclear(r);
	}
	free(cells);
	return rc;
}

/* The fast path's claims: the inbox rows of every one-event item of the batch in one statement
 * and their ids checked in another (instead of both per event). 0 done, 1 the batch must go the
 * one-event way (a possible collision, or the claim failed for a reason that is not
 * transient), -1 transient. */
static int consumer_claim_batch(struct consumer *c, PGconn *pg, struct item *items, size_t n)
{
	size_t k = 0, fresh_n;
	for (size_t i = 0; i < n; i++) {
		bool inbox;
		items[i].claimed = items[i].duplicate = false;
		if (items[i].state == ITEM_APPLY && consumer_one_event(c, &items[i], &inbox) &&
		    inbox) {
			c->set_idx[k++] = i;
			items[i].duplicate = true; /* until the claim says fresh */
		}
	}
	if (k > 0) {
		ssize_t fresh = consumer_claim_set(pg, items, c->set_idx, k);
		if (fresh < 0)
			goto failed;
		for (size_t j = 0; j < (size_t)fresh; j++)
			items[c->set_idx[j]].duplicate = false;
	}
	/* the ids of every fresh one-event item, with an inbox row or not */
	fresh_n = 0;
	for (size_t i = 0; i < n; i++) {
		bool inbox;
		if (items[i].state == ITEM_APPLY && !items[i].duplicate &&
		    consumer_one_event(c, &items[i], &inbox))
			c->set_idx[fresh_n++] = i;
	}
	/* among themselves with the set items too, which may come first in the batch and
	 * write the pair a later one-event item collides with (their own check is against the
	 * projection when their set is applied) */
	size_t all_n = fresh_n;
	for (size_t i = 0; i < n; i++) {
		bool inbox;
		if (items[i].state == ITEM_APPLY && !consumer_one_event(c, &items[i], &inbox) &&
		    c->named[items[i].h - c->def.handlers])
			c->set_idx[all_n++] = i;
	}
	if (consumer_ids_conflict_in_batch(items, c->set_idx, all_n))
		return 1;
	int rc = consumer_ids_check_set(c, pg, items, c->set_idx, fresh_n);
	if (rc < 0)
		goto failed;
	if (rc > 0)
		return 1;
	for (size_t i = 0; i < n; i++) {
		bool inbox;
		if (items[i].state == ITEM_APPLY && consumer_one_event(c, &items[i], &inbox))
			items[i].claimed = true;
	}
	return 0;
failed:
	return consumer_sqlstate_transient(pg_last_sqlstate()) ? -1 : 1;
}

/* One claimed item without a savepoint: 0 applied or duplicate, 1 it failed for a reason that
 * is not transient (the batch is rolled back and applied again with a savepoint per event,
 * where the failing event costs only itself and is named), -1 transient. */
static int consumer_apply_fast(struct consumer *c, PGconn *pg, struct item *it)
{
	if (it->duplicate) {
		consumer_count("cp_duplicates_total", "Events skipped as already applied.",
			       rd_kafka_topic_name(it->msg->rkt), 1);
		return 0;
	}
	if (consumer_apply_handler(c, pg, it) == 0)
		return 0;
	if (it->state != ITEM_REJECT && consumer_sqlstate_transient(pg_last_sqlstate()))
		return -1;
	it->state = ITEM_APPLY; /* the one-event way decides again, a reject included */
	it->reason[0] = '\0';
	return 1;
}

/* Runs the batch_end hook of every handler that applied events in this try of the batch. */
static int consumer_batch_end(struct consumer *c, PGconn *pg)
{
	for (size_t i = 0; i < c->def.nhandlers; i++) {
		const struct consumer_set_handler *sh = c->set_of[i];
		if (c->touched[i] && sh && sh->batch_end && sh->batch_end(pg, c->def.arg) != 0)
			return -1;
	}
	return 0;
}

/* Every item in one transaction: the items of a set-capable handler as one set, the others one
 * by one. The first try of a batch (fast) claims the inbox rows and checks the ids of all of
 * them with two statements and applies each event with no savepoint: per event only the
 * handler's own statements, where a savepoint, an inbox claim, an ids check and a release
 * were four more round trips (pg_stat_statements in `make bench`: they were most of the
 * pipeline's statements). Should an event fail for a reason that is not transient, the batch
 * is rolled back and tried the one-event way at once: each event under its own savepoint, as
 * before, so a poison event still costs only itself. Returns 0 (committed), 1 (rolled back:
 * try the one-event way) or -1 (rolled back: a transient failure). */
static int consumer_apply_batch(struct consumer *c, PGconn *pg, struct item *items, size_t n,
				bool fast)
{
	int rc = -1;
	if (pg_begin(pg) != 0)
		return -1;
	memset(c->touched, 0, c->def.nhandlers * sizeof(*c->touched));
	for (size_t i = 0; i < n; i++)
		items[i].done = items[i].claimed = false;
	/* the fast try writes the outbox rows of all its events with one statement before
	 * COMMIT; the one-event way rolls back to savepoints, so it writes each row at once */
	outbox_defer(fast);
	if (fast && (rc = consumer_claim_batch(c, pg, items, n)) != 0)
		goto failed;
	for (size_t i = 0; i < n; i++) {
		struct item *it = &items[i];
		if (it->state != ITEM_APPLY || it->done)
			continue;
		c->touched[it->h - c->def.handlers] = true;
		const struct consumer_set_handler *sh = c->set_of[it->h - c->def.handlers];
		if (c->def.set_apply && sh && sh->apply_set) {
			/* a set may fall back to savepoints: no row is held across them */
			if (fast && outbox_defer_flush(pg) != 0)
				goto flush_failed;
			outbox_defer(false);
			rc = consumer_apply_set(c, pg, items, i, n);
			outbox_defer(fast);
		} else {
			rc = it->claimed ? consumer_apply_fast(c, pg, it)
					 : consumer_apply_isolated(c, pg, it);
		}
		if (rc != 0)
			goto failed;
	}
	/* batch_end hooks may roll back to savepoints of their own (evidence's rebuilds) */
	if (fast && outbox_defer_flush(pg) != 0)
		goto flush_failed;
	outbox_defer(false);
	rc = -1;
	if (consumer_batch_end(c, pg) != 0)
		goto failed;
	return pg_commit(pg);
flush_failed:
	rc = consumer_sqlstate_transient(pg_last_sqlstate()) ? -1 : 1;
failed:
	outbox_defer(false);
	pg_rollback(pg);
	if (rc > 0)
		consumer_count("cp_consumer_fast_fallbacks_total",
			       "Batches applied again one event at a time under savepoints after a "
			       "non-transient failure.",
			       "", 1);
	return rc > 0 ? 1 : -1;
}

static void consumer_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Keeps the batch's partitions with their first and last offsets (under stall_lock). */
static void consumer_hold(struct consumer *c, rd_kafka_message_t **msgs, size_t n)
{
	c->nheld = 0;
	for (size_t i = 0; i < n; i++) {
		size_t j = 0;
		while (j < c->nheld && (c->held[j].rkt != msgs[i]->rkt ||
					c->held[j].partition != msgs[i]->partition))
			j++;
		if (j == c->nheld) {
			struct consumer_held *h = &c->held[c->nheld++];
			h->rkt = msgs[i]->rkt;
			snprintf(h->topic, sizeof(h->topic), "%s",
				 rd_kafka_topic_name(msgs[i]->rkt));
			h->partition = msgs[i]->partition;
			h->first = msgs[i]->offset;
		}
		c->held[j].last = msgs[i]->offset;
	}
}

/* Notes that the consumer took the batch msgs (n > 0) or is done with it (n == 0). When a
 * stall had set cp_consumer_lag from the batch's first offsets, the batch's end sets it back
 * (no later event on a partition may come to correct it). */
static void consumer_stall_note(struct consumer *c, rd_kafka_message_t **msgs, size_t n)
{
	pthread_mutex_lock(&c->stall_lock);
	if (n == 0 && c->lag_held)
		for (size_t j = 0; j < c->nheld; j++)
			kafka_consumer_lag_set(c->kc, c->held[j].topic, c->held[j].partition,
					       c->held[j].last + 1);
	c->lag_held = false;
	c->batch_since = n ? tstamp_mono() : 0;
	c->batch_events = n;
	c->batch_tries = 0;
	c->batch_error[0] = '\0';
	consumer_hold(c, msgs, n);
	pthread_mutex_unlock(&c->stall_lock);
}

/* cp_consumer_lag is set when a batch is polled: a consumer stuck on its batch polls no
 * more, and its lag stayed at what it was then (0 for a consumer that had caught up) while
 * events piled up behind it. Held longer than after_s, the batch's partitions count from its
 * first offset (the held events are not applied either) to the end librdkafka last saw. */
void consumer_stall_lag(struct consumer *c, double after_s)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->stall_lock);
	if (c->batch_since > 0 && tstamp_mono() - c->batch_since > after_s) {
		for (size_t j = 0; j < c->nheld; j++)
			kafka_consumer_lag_set(c->kc, c->held[j].topic, c->held[j].partition,
					       c->held[j].first);
		c->lag_held = true;
	}
	pthread_mutex_unlock(&c->stall_lock);
}

/* A failed try of the batch in hand: counted, and its SQLSTATE kept for /readyz (the code
 * only: an error's text may quote a row's values). */
static void consumer_stall_failed(struct consumer *c, PGconn *pg)
{
	const char *state = pg ? pg_last_sqlstate() : "";
	pthread_mutex_lock(&c->stall_lock);
	c->batch_tries++;
	snprintf(c->batch_error, sizeof(c->batch_error), "%s", state[0] ? state : "connection");
	pthread_mutex_unlock(&c->stall_lock);
	metrics_add(c->retries, 1);
}

double consumer_stall(struct consumer *c, struct consumer_stall_info *info)
{
	if (!c)
		return 0;
	pthread_mutex_lock(&c->stall_lock);
	double secs = c->batch_since > 0 ? tstamp_mono() - c->batch_since : 0;
	if (info) {
		info->group = c->group;
		info->events = c->batch_events;
		info->tries = c->batch_tries;
		snprintf(info->error, sizeof(info->error), "%s", c->batch_error);
	}
	pthread_mutex_unlock(&c->stall_lock);
	return secs;
}

int consumer_group_lag(struct consumer *c, const char *topic, int timeout_ms, int64_t *lag)
{
	return c ? kafka_consumer_group_lag(c->kc, topic, timeout_ms, lag) : -1;
}

/* Applies until done or stopped. Returns 0 when every item is settled. A batch that keeps
 * failing for a transient reason is retried here for ever (its events must not be lost or
 * overtaken): consumer_stall tells /readyz and /metrics how long, so it is not silent. */
static int consumer_settle(struct consumer *c, struct item *items, size_t n)
{
	struct backoff bo;
	backoff_init(&bo, 100, 5000);
	for (;;) {
		PGconn *pg = pg_conn_get(&c->pg);
		int rc = pg ? consumer_apply_batch(c, pg, items, n, true) : -1;
		if (rc > 0) /* an event failed: the one-event way names and isolates it */
			rc = consumer_apply_batch(c, pg, items, n, false);
		if (rc == 0)
			return 0;
		consumer_stall_failed(c, pg);
		if (pg && PQstatus(pg) != CONNECTION_OK)
			pg_conn_reset(&c->pg);
		if (atomic_load(&c->stop))
			return -1;
		backoff_sleep(&bo);
	}
}

static void consumer_add_header(rd_kafka_headers_t *h, const char *name, const char *value)
{
	rd_kafka_header_add(h, name, -1, value, -1);
}

int consumer_dead_letter(struct kafka_producer *p, const char *group, const rd_kafka_message_t *m,
			 const char *reason)
{
	rd_kafka_headers_t *orig = NULL, *h;
	char num[32], err[256];
	if (rd_kafka_message_headers(m, &orig) == RD_KAFKA_RESP_ERR_NO_ERROR && orig)
		h = rd_kafka_headers_copy(orig);
	else
		h = rd_kafka_headers_new(5);
	consumer_add_header(h, "dlq_reason", reason);
	consumer_add_header(h, "dlq_topic", rd_kafka_topic_name(m->rkt));
	snprintf(num, sizeof(num), "%d", m->partition);
	consumer_add_header(h, "dlq_partition", num);
	snprintf(num, sizeof(num), "%lld", (long long)m->offset);
	consumer_add_header(h, "dlq_offset", num);
	consumer_add_header(h, "dlq_group", group);
	struct kafka_dr dr;
	struct kafka_dr_slot slot = {.group = &dr};
	kafka_dr_init(&dr);
	char key[256];
	size_t klen = m->key_len < sizeof(key) - 1 ? m->key_len : sizeof(key) - 1;
	memcpy(key, m->key ? m->key : "", m->key ? klen : 0);
	key[m->key ? klen : 0] = '\0';
	int rc =
	    kafka_produce(p, TOPIC_DEADLETTER, key, m->payload, m->len, h, &slot, err, sizeof(err));
	if (rc != 0)
		rd_kafka_headers_destroy(h);
	while (rc == 0 && kafka_dr_wait(&dr, 1000) > 0)
		;
	if (rc == 0 && slot.err)
		rc = -1;
	kafka_dr_destroy(&dr);
	return rc;
}

static int consumer_flush_rejects(struct consumer *c, struct item *items, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (items[i].state != ITEM_REJECT)
			continue;
		const char *topic = rd_kafka_topic_name(items[i].msg->rkt);
		log_msg(
		    LOG_WARN, "dead_letter",
		    LOG_KV({"ce_id", items[i].ce.id[0] ? items[i].ce.id : NULL}, {"topic", topic}),
		    "event dead-lettered: %s", items[i].reason);
		if (consumer_dead_letter(c->dlq, c->def.group, items[i].msg, items[i].reason) != 0)
			return -1;
		consumer_count("cp_deadlettered_total", "Events sent to the dead-letter topic.",
			       topic, 1);
	}
	return 0;
}

static void consumer_release(struct consumer *c, struct item *items, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		ce_data_release(&items[i].data);
		rd_kafka_message_destroy(items[i].msg);
	}
	consumer_arena_reset(&c->arena); /* the decoded messages */
}

/* Returns whether the batch's offsets were stored (for the next commit). */
static bool consumer_batch(struct consumer *c, rd_kafka_message_t **msgs, size_t n)
{
	double t0 = tstamp_mono();
	struct item *items = c->items;
	consumer_stall_note(c, msgs, n);
	memset(items, 0, n * sizeof(*items));
	const char *topic = NULL;
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		items[i].msg = msgs[i];
		consumer_prepare(c, &items[i]);
		/* counted per run of one topic: a counter's label and look-up per event were a
		 * visible part of the consumers' CPU per scan */
		const char *t = rd_kafka_topic_name(msgs[i]->rkt);
		if (run > 0 && strcmp(t, topic) != 0) {
			consumer_count("cp_consumed_total", "Events consumed.", topic, (double)run);
			run = 0;
		}
		topic = t;
		run++;
	}
	if (run > 0)
		consumer_count("cp_consumed_total", "Events consumed.", topic, (double)run);
	int rc = consumer_settle(c, items, n);
	while (rc == 0 && consumer_flush_rejects(c, items, n) != 0 && !atomic_load(&c->stop))
		consumer_sleep_ms(500);
	bool stored = rc == 0 && kafka_consumer_store(c->kc, msgs, n) == 0;
	consumer_stall_note(c, NULL, 0);
	consumer_release(c, items, n);
	metrics_observe(metrics_histogram("cp_consume_batch_seconds",
					  "Time to apply one consumed batch.", NULL, NULL, 0),
			tstamp_mono() - t0);
	return stored;
}

static void *consumer_main(void *arg)
{
	struct consumer *c = arg;
	rd_kafka_message_t **msgs = calloc((size_t)c->def.batch_max, sizeof(*msgs));
	bool uncommitted = false;
	double committed_at = 0;
	while (msgs && !atomic_load(&c->stop)) {
		size_t n = kafka_consumer_poll_batch(c->kc, msgs, (size_t)c->def.batch_max, 200,
						     c->def.batch_wait_ms);
		if (n > 0 && consumer_batch(c, msgs, n))
			uncommitted = true;
		/* A batch that is not full (or no batch) means this consumer has caught up with the
		 * partition ends: its offsets are committed now rather than at the next auto commit
		 * (auto.commit.interval.ms, 1 s), so the group's committed lag says at once that
		 * everything is applied (make bench's tracking figure waited up to that second for
		 * it, operators' lag alerts too). At most every 100 ms, so a consumer that keeps
		 * catching up with a trickle adds ten small commits a second; full batches (a
		 * backlog) leave it to the auto commit. */
		double now = tstamp_mono();
		if (uncommitted && n < (size_t)c->def.batch_max && now - committed_at >= 0.1) {
			kafka_consumer_commit_async(c->kc);
			uncommitted = false;
			committed_at = now;
		}
	}
	free(msgs);
	return NULL;
}

/* Each handler's set side, matched by topic and ce_type. */
static void consumer_match_sets(struct consumer *c)
{
	for (size_t i = 0; i < c->def.nhandlers; i++) {
		const struct consumer_handler *h = &c->def.handlers[i];
		for (size_t j = 0; j < c->def.nsets; j++) {
			const struct consumer_set_handler *sh = &c->def.sets[j];
			bool same_type =
			    (!h->ce_type && !sh->ce_type) ||
			    (h->ce_type && sh->ce_type && strcmp(h->ce_type, sh->ce_type) == 0);
			if (strcmp(h->topic, sh->topic) == 0 && same_type)
				c->set_of[i] = sh;
		}
	}
}

struct consumer *consumer_start(const struct consumer_def *def, const char *bootstrap,
				const char *conninfo, struct kafka_producer *dlq, char *errstr,
				size_t errlen)
{
	const char *topics[16];
	size_t nt = 0;
	for (size_t i = 0; i < def->nhandlers && nt < 16; i++) {
		bool seen = false;
		for (size_t j = 0; j < nt; j++)
			seen = seen || strcmp(topics[j], def->handlers[i].topic) == 0;
		if (!seen)
			topics[nt++] = def->handlers[i].topic;
	}
	struct consumer *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->def = *def;
	snprintf(c->group, sizeof(c->group), "%s", def->group);
	c->def.group = c->group;
	c->dlq = dlq;
	c->items = calloc((size_t)def->batch_max, sizeof(struct item));
	c->set = calloc((size_t)def->batch_max, sizeof(*c->set));
	c->set_idx = calloc((size_t)def->batch_max, sizeof(*c->set_idx));
	c->touched = calloc(def->nhandlers ? def->nhandlers : 1, sizeof(*c->touched));
	c->set_of = calloc(def->nhandlers ? def->nhandlers : 1, sizeof(*c->set_of));
	c->named = calloc(def->nhandlers ? def->nhandlers : 1, sizeof(*c->named));
	c->held = calloc((size_t)def->batch_max, sizeof(*c->held));
	if (!c->items || !c->set || !c->set_idx || !c->touched || !c->set_of || !c->named ||
	    !c->held)
		goto failed;
	for (size_t i = 0; i < def->nhandlers; i++) {
		const ProtobufCMessageDescriptor *d = def->handlers[i].desc;
		c->named[i] = protobuf_c_message_descriptor_get_field_by_name(d, "complaint_id") &&
			      protobuf_c_message_descriptor_get_field_by_name(d, "complaint_no");
	}
	consumer_match_sets(c);
	c->pb_alloc = (ProtobufCAllocator){consumer_arena_alloc, consumer_arena_free, &c->arena};
	char labels[160];
	snprintf(labels, sizeof(labels), "group=\"%s\"", c->group);
	c->retries = metrics_counter("cp_consumer_batch_retries_total",
				     "Tries of a consumed batch that failed (database error, lost "
				     "connection) and are retried after a back-off.",
				     labels);
	if (pthread_mutex_init(&c->stall_lock, NULL) != 0)
		goto failed;
	if (pg_conn_init(&c->pg, conninfo, "consumer") != 0)
		goto failed_lock;
	c->kc = kafka_consumer_new_props(bootstrap, def->group, topics, nt, def->kafka_props,
					 errstr, errlen);
	if (!c->kc)
		goto failed_pg;
	if (pthread_create(&c->thread, NULL, consumer_main, c) != 0) {
		snprintf(errstr, errlen, "cannot start the consumer thread");
		kafka_consumer_destroy(c->kc);
		goto failed_pg;
	}
	return c;
failed_pg:
	pg_conn_release(&c->pg);
failed_lock:
	pthread_mutex_destroy(&c->stall_lock);
failed:
	free(c->items);
	free(c->set);
	free(c->set_idx);
	free(c->touched);
	free(c->set_of);
	free(c->named);
	free(c->held);
	free(c);
	return NULL;
}

void consumer_stop(struct consumer *c)
{
	if (!c)
		return;
	atomic_store(&c->stop, true);
	pthread_join(c->thread, NULL);
	kafka_consumer_destroy(c->kc);
	pg_conn_release(&c->pg);
	pthread_mutex_destroy(&c->stall_lock);
	consumer_arena_reset(&c->arena);
	free(c->arena);
	free(c->items);
	free(c->set);
	free(c->set_idx);
	free(c->touched);
	free(c->set_of);
	free(c->named);
	free(c->held);
	free(c);
}
