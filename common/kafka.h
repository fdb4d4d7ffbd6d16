/* Kafka clients on librdkafka.
 *
 * Producer: idempotent (enable.idempotence=true, acks=all, batching with linger), delivery
 * reports served continuously by a dedicated thread; every produced message carries a
 * kafka_dr tracker that the report completes. A fatal producer error (idempotence broken)
 * sets kafka_fatal() so the service exits and is restarted; the outbox resends.
 *
 * Consumer: a consumer group with enable.auto.offset.store=false: offsets are stored (and
 * then auto-committed) only by kafka_consumer_store, which callers invoke after the database
 * transaction that applied the messages has committed.
 *
 * Properties: bootstrap servers from the caller, kafka_recovery_defaults (reconnect back-off
 * and connection set-up bounded, so clients find a restarted broker within about a second;
 * TCP_NODELAY, so a request does not wait for the previous one's acknowledgement),
 * the client's own defaults, then every KAFKA_* environment variable (KAFKA_PRODUCER_* /
 * KAFKA_CONSUMER_* for one client only), which override them. */
#ifndef CP_KAFKA_H
#define CP_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

/* Waits for the delivery reports of a group of messages. */
struct kafka_dr {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	size_t pending;
	size_t failed;
	rd_kafka_resp_err_t last_err;
};

/* Per-message outcome slot: set by the delivery report. */
struct kafka_dr_slot {
	struct kafka_dr *group;
	rd_kafka_resp_err_t err;
	bool done;
};

void kafka_dr_init(struct kafka_dr *dr);
void kafka_dr_destroy(struct kafka_dr *dr);
/* Waits until every message of the group is reported or timeout_ms passes.
 * Returns the number still pending. */
size_t kafka_dr_wait(struct kafka_dr *dr, int timeout_ms);

struct kafka_producer;

/* Sends the messages queued on p at once (linger.ms does not hold them back) and waits until
 * every message of the group is reported or timeout_ms passes. Returns the number still
 * pending. */
size_t kafka_dr_send_wait(struct kafka_producer *p, struct kafka_dr *dr, int timeout_ms);

/* The properties every client gets before its own defaults and the environment: name, value,
 * ..., NULL (see kafka.c for why each). */
extern const char *const kafka_recovery_defaults[];

/* Sets the cp_kafka_*_latency/rtt gauges from one librdkafka statistics JSON (the stats
 * callback's; exposed for tests). 0, or -1 when it is not a client's statistics. */
int kafka_stats_apply(const char *json, size_t len) __attribute__((warn_unused_result));

struct kafka_producer *kafka_producer_new(const char *bootstrap, const char *client_id,
					  char *errstr, size_t errlen);
/* Flushes for at most timeout_ms, stops the report thread, destroys. */
void kafka_producer_destroy(struct kafka_producer *p, int timeout_ms);

/* Produces one message. headers ownership passes to librdkafka on success only; slot may be
 * NULL (fire and forget) and otherwise must stay valid until its report. Retries on a full
 * queue for up to 5 s. Returns 0 or -1 with the reason in errstr. */
int kafka_produce(struct kafka_producer *p, const char *topic, const char *key, const void *value,
		  size_t len, rd_kafka_headers_t *headers, struct kafka_dr_slot *slot, char *errstr,
		  size_t errlen) __attribute__((warn_unused_result));

rd_kafka_t *kafka_producer_handle(struct kafka_producer *p);

/* True once a fatal error was raised by any client of this process. */
bool kafka_fatal(void);

struct kafka_consumer;

struct kafka_consumer *kafka_consumer_new(const char *bootstrap, const char *group,
					  const char *const *topics, size_t ntopics, char *errstr,
					  size_t errlen);
/* The same with more librdkafka properties (name, value, ..., NULL; at most 16) over the
 * consumer defaults; KAFKA_* and KAFKA_CONSUMER_* in the environment still override them. */
struct kafka_consumer *kafka_consumer_new_props(const char *bootstrap, const char *group,
						const char *const *topics, size_t ntopics,
						const char *const *props, char *errstr,
						size_t errlen);
/* Fills msgs with up to max messages: waits up to timeout_ms for the first, then takes what
 * has arrived within wait_ms more (counted from the first, however many come meanwhile) and
 * what is already fetched. Returns the count; the caller destroys each message. */
size_t kafka_consumer_poll_batch(struct kafka_consumer *c, rd_kafka_message_t **msgs, size_t max,
				 int timeout_ms, int wait_ms);
/* Stores offset+1 of every message for the next commit; call after the transaction that
 * applied them committed. */
int kafka_consumer_store(struct kafka_consumer *c, rd_kafka_message_t **msgs, size_t n);
/* Commits stored offsets synchronously (shutdown path). */
void kafka_consumer_commit(struct kafka_consumer *c);
/* Commits the stored offsets now without waiting for the broker's answer (a consumer that
 * has caught up, see consumer.c); a failure is logged and the auto commit tries again. */
void kafka_consumer_commit_async(struct kafka_consumer *c);
void kafka_consumer_destroy(struct kafka_consumer *c);
/* Sets cp_consumer_lag{topic,partition} to the partition's end as librdkafka last saw it
 * (no broker request) minus next, the offset of the first event not applied. Any thread. */
void kafka_consumer_lag_set(struct kafka_consumer *c, const char *topic, int32_t partition,
			    int64_t next);
/* The consumer group's committed lag on topic, summed over all of the topic's partitions
 * (those of other members of the group too): each partition's end minus the offset the group
 * committed there (its start when none). Asks the brokers (metadata, the group's committed
 * offsets, each partition's end; each waits up to timeout_ms): call it from a thread that may
 * block, never the event loop. Returns 0 and sets *lag, or -1 when the brokers did not answer. */
int kafka_consumer_group_lag(struct kafka_consumer *c, const char *topic, int timeout_ms,
			     int64_t *lag) __attribute__((warn_unused_result));
rd_kafka_t *kafka_consumer_handle(struct kafka_consumer *c);

/* Checks that the cluster answers a metadata request within timeout_ms. */
bool kafka_reachable(rd_kafka_t *rk, int timeout_ms);

#endif
