/* The consume loop every service uses: one thread, one consumer group, batches.
 *
 * CloudEvents are read in binary or structured mode (ce_message_read): carriers produce
 * parcel.tracking.v1 with their own libraries.
 *
 * Fast path: a batch is first applied with the inbox claims of all its one-event items in one
 * statement, their id<->number checks in another, no savepoint per event and the outbox rows
 * the handlers add written together before COMMIT (outbox_defer), so an event costs only its
 * handler's own statements; if any event fails for a reason that is not transient, that
 * try is rolled back and the batch is applied again at once the way described below.
 *
 * For each batch: check the CloudEvents headers, decode the protobuf payload (bounded size)
 * and validate it (the rules every event obeys, common/evcheck.h, then the handler's own);
 * what fails goes to the dead-letter topic with the reason in the
 * `dlq_reason` header. The rest is applied in ONE transaction: for every event the inbox
 * claim (duplicates are skipped) and the handler's apply, which writes state and outbox rows
 * on the same connection. After COMMIT (and after the dead letters are acknowledged by the
 * broker) the offsets are stored. Each event is applied under its own SAVEPOINT, so a poison
 * event costs only itself: a persistent failure (any SQLSTATE but classes 08, 40, 53, 57)
 * rolls back to the savepoint, is tried again up to 3 times and then dead-lettered with the
 * reason while the rest of the batch commits; a transient failure (connection, serialization,
 * deadlock, shutdown) rolls the batch back and retries it after a jittered back-off.
 *
 * Set-based apply: a handler with apply_set takes all of the batch's valid events of its kind
 * at once and applies them with a constant number of statements (multi-row INSERT ... SELECT
 * FROM unnest(...), ON CONFLICT for idempotency), and their inbox claims are one statement too,
 * so a batch of N events costs a few round trips instead of 2N. The set runs under its own
 * savepoint; when it fails for a non-transient reason (one poison event among valid ones), it
 * is rolled back and the same events go through the one-event path above, each under its own
 * savepoint, so the poison event still costs only itself. A set's outbox rows are one insert
 * before its savepoint is released. Events of a set never overtake an earlier event of the
 * batch about the same key or complaint that another handler takes (a complaint's received,
 * classified and assigned events): those wait for a later set. CONSUMER_SET_APPLY=false forces
 * the one-event path (tests/system/test_tracking_set_apply.py and
 * test_complaint_set_apply.py compare both). */
#ifndef CP_CONSUMER_H
#define CP_CONSUMER_H

#include <libpq-fe.h>
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>

#include "ce.h"
#include "kafka.h"

#define CONSUMER_MAX_PAYLOAD (1024 * 1024)

/* apply's result besides 0 (applied) and -1 (database error, retry): the event is invalid
 * for this service's state; it is dead-lettered. apply must not have written anything. */
#define CONSUMER_REJECT 1

/* One event of a set-based apply, in the batch's order. */
struct consumer_set_item {
	const struct ce_meta *ce;
	const char *key;
	const ProtobufCMessage *m;
};

struct consumer_handler {
	const char *topic;
	const char *ce_type; /* NULL: any type on the topic */
	const ProtobufCMessageDescriptor *desc;
	/* Checks the decoded message; fills errstr and returns -1 to dead-letter it. */
	int (*validate)(const ProtobufCMessage *m, char *errstr, size_t errlen);
	/* Applies the event inside the open transaction. Key is the Kafka message key. */
	int (*apply)(PGconn *c, const struct ce_meta *ce, const char *key,
		     const ProtobufCMessage *m, char *errstr, size_t errlen, void *arg);
};

/* The set-based side of a handler, matched to it by topic and ce_type (kept apart from
 * struct consumer_handler so the services' handler tables stay as they are). */
struct consumer_set_handler {
	const char *topic;
	const char *ce_type;
	/* Optional: applies n new events (duplicates by inbox already left out) with a constant
	 * number of statements, with the same result as apply called on each in order. Returns
	 * 0 or -1; on -1 whatever it wrote is rolled back and the events are applied one by one
	 * (a non-transient failure) or the batch is retried (a transient one). */
	int (*apply_set)(PGconn *c, const struct consumer_set_item *items, size_t n, char *errstr,
			 size_t errlen, void *arg);
	/* Optional: runs once per batch in which events of this handler were applied (by either
	 * path), after all of them and before COMMIT: work that is done once per key rather than
	 * per event (evidence rebuilds a bundle once per waybill). It settles non-transient
	 * failures itself; -1 means the batch is retried. */
	int (*batch_end)(PGconn *c, void *arg);
	/* The events are idempotent by their own content (a scan's (carrier, scan_id) key, or a
	 * projection that keeps the minimum or the latest): no inbox row is written for them, as
	 * the inbox would only repeat what the handler's own key already records. */
	bool no_inbox;
};

/* The service's projection that knows both a complaint's id and its number: an event whose
 * complaint_no belongs to another complaint_id there (or the other way round) is
 * dead-lettered before it is applied, instead of carrying the collision on downstream.
 * Checked on the one-event path, and for a set's fresh events with one statement (a possible
 * collision sends the set the one-event way, which names the event). */
struct consumer_ids {
	const char *table;  /* e.g. "cases" (the service's own schema) */
	const char *id_col; /* its uuid column, e.g. "complaint_id"; the number is complaint_no */
};

struct consumer_def {
	const char *group;
	const struct consumer_handler *handlers;
	size_t nhandlers;
	void *arg;
	int batch_max;
	int batch_wait_ms;
	const struct consumer_set_handler *sets; /* may be NULL */
	size_t nsets;
	bool set_apply; /* false: every event through apply, one at a time (the reference path) */
	const struct consumer_ids *ids; /* NULL: the service keeps no such projection */
	/* librdkafka properties over the consumer defaults (name, value, ..., NULL), or NULL */
	const char *const *kafka_props;
};

/* 0 when the event's id and number agree with the projection (or it has not both), 1 when
 * they collide (reason in err), -1 on a database error. */
int consumer_ids_check(PGconn *c, const struct consumer_ids *ids, const ProtobufCMessage *m,
		       char *err, size_t errlen) __attribute__((warn_unused_result));

struct consumer;

/* Subscribes to every topic of the handlers and starts the thread. def and the group name are
 * copied; the handlers array must outlive the consumer; dlq is used for dead letters (not
 * owned). */
struct consumer *consumer_start(const struct consumer_def *def, const char *bootstrap,
				const char *conninfo, struct kafka_producer *dlq, char *errstr,
				size_t errlen);
/* Finishes the current batch, commits offsets, closes the consumer, joins, frees. */
void consumer_stop(struct consumer *c);

/* The batch a consumer holds and has not applied and stored yet. */
struct consumer_stall_info {
	const char *group; /* valid while the consumer lives */
	size_t events;
	int tries;	/* failed tries of it so far (each retried after a back-off) */
	char error[12]; /* the last failed try's SQLSTATE, "connection", or "" */
};

/* Seconds since the consumer took the batch it still holds (0 when it holds none): a batch
 * takes milliseconds, so a growing figure means the consumer is stuck retrying it or waiting
 * inside a statement, its lag growing behind it. Any thread; c may be NULL (0); info may be
 * NULL. */
double consumer_stall(struct consumer *c, struct consumer_stall_info *info);

/* When the consumer has held its batch longer than after_s, sets cp_consumer_lag of the
 * batch's partitions from the batch's first offset to the partition end librdkafka last saw
 * (no broker request), so a stalled consumer's lag grows as events arrive. Any thread; c may
 * be NULL. */
void consumer_stall_lag(struct consumer *c, double after_s);

/* The committed lag of the consumer's group on topic (kafka_consumer_group_lag: blocks on the
 * brokers, any thread but the event loop). 0 or -1. */
int consumer_group_lag(struct consumer *c, const char *topic, int timeout_ms, int64_t *lag)
    __attribute__((warn_unused_result));

/* True when a failure with this SQLSTATE may pass by itself, so the batch is retried rather
 * than the event dead-lettered: "" (no server answer: the connection broke), class 08
 * (connection), 40 (serialization failure, deadlock), 53 (insufficient resources), 57
 * (operator intervention: shutdown, cancel), and 42501 (insufficient privilege: a grant an
 * operator revoked or forgot is theirs to fix, not the event's fault). */
bool consumer_sqlstate_transient(const char *sqlstate);

/* Dead-letters one message synchronously (waits for the broker's acknowledgement).
 * Returns 0 or -1. Exposed for tests and tools. */
int consumer_dead_letter(struct kafka_producer *p, const char *group, const rd_kafka_message_t *m,
			 const char *reason);

#endif
