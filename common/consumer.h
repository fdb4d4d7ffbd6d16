/* The consume loop every service uses: one thread, one consumer group, batches.
 *
 * CloudEvents are read in binary or structured mode (ce_message_read): carriers produce
 * parcel.tracking.v1 with their own libraries.
 *
 * For each batch: check the CloudEvents headers, decode the protobuf payload (bounded size)
 * and validate it; what fails goes to the dead-letter topic with the reason in the
 * `dlq_reason` header. The rest is applied in ONE transaction: for every event the inbox
 * claim (duplicates are skipped) and the handler's apply, which writes state and outbox rows
 * on the same connection. After COMMIT (and after the dead letters are acknowledged by the
 * broker) the offsets are stored. Each event is applied under its own SAVEPOINT, so a poison
 * event costs only itself: a persistent failure (any SQLSTATE but classes 08, 40, 53, 57)
 * rolls back to the savepoint, is tried again up to 3 times and then dead-lettered with the
 * reason while the rest of the batch commits; a transient failure (connection, serialization,
 * deadlock, shutdown) rolls the batch back and retries it after a jittered back-off. */
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

struct consumer_def {
	const char *group;
	const struct consumer_handler *handlers;
	size_t nhandlers;
	void *arg;
	int batch_max;
	int batch_wait_ms;
};

struct consumer;

/* Subscribes to every topic of the handlers and starts the thread. def and the group name are
 * copied; the handlers array must outlive the consumer; dlq is used for dead letters (not
 * owned). */
struct consumer *consumer_start(const struct consumer_def *def, const char *bootstrap,
				const char *conninfo, struct kafka_producer *dlq, char *errstr,
				size_t errlen);
/* Finishes the current batch, commits offsets, closes the consumer, joins, frees. */
void consumer_stop(struct consumer *c);

/* True when a failure with this SQLSTATE may pass by itself, so the batch is retried rather
 * than the event dead-lettered: "" (no server answer: the connection broke), class 08
 * (connection), 40 (serialization failure, deadlock), 53 (insufficient resources), 57
 * (operator intervention: shutdown, cancel). */
bool consumer_sqlstate_transient(const char *sqlstate);

/* Dead-letters one message synchronously (waits for the broker's acknowledgement).
 * Returns 0 or -1. Exposed for tests and tools. */
int consumer_dead_letter(struct kafka_producer *p, const char *group, const rd_kafka_message_t *m,
			 const char *reason);

#endif
