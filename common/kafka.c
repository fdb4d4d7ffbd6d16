#include "kafka.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cfg.h"
#include "log.h"
#include "metrics.h"
#include "tstamp.h"

static atomic_bool kafka_fatal_flag;

struct kafka_producer {
	rd_kafka_t *rk;
	pthread_t poller;
	atomic_bool stop;
};

struct kafka_consumer {
	rd_kafka_t *rk;
};

bool kafka_fatal(void)
{
	return atomic_load(&kafka_fatal_flag);
}

void kafka_dr_init(struct kafka_dr *dr)
{
	memset(dr, 0, sizeof(*dr));
	pthread_mutex_init(&dr->lock, NULL);
	pthread_cond_init(&dr->cond, NULL);
}

void kafka_dr_destroy(struct kafka_dr *dr)
{
	pthread_mutex_destroy(&dr->lock);
	pthread_cond_destroy(&dr->cond);
}

size_t kafka_dr_wait(struct kafka_dr *dr, int timeout_ms)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&dr->lock);
	while (dr->pending > 0)
		if (pthread_cond_timedwait(&dr->cond, &dr->lock, &until) != 0)
			break;
	size_t left = dr->pending;
	pthread_mutex_unlock(&dr->lock);
	return left;
}

static size_t kafka_dr_pending(struct kafka_dr *dr)
{
	pthread_mutex_lock(&dr->lock);
	size_t left = dr->pending;
	pthread_mutex_unlock(&dr->lock);
	return left;
}

/* linger.ms (5) lets a producer gather messages into one request; a caller that has produced
 * all it has and now waits for the reports gains nothing from it: the outbox relay did wait
 * out those 5 ms on every batch, in every hop of an event between services (an acknowledgement
 * makes one). rd_kafka_flush sends what is queued at once, linger.ms notwithstanding, while it
 * runs (librdkafka >= 1.8); it waits for every message of the handle, so it runs in short
 * slices and stops as soon as this group's reports are in. */
size_t kafka_dr_send_wait(struct kafka_producer *p, struct kafka_dr *dr, int timeout_ms)
{
	double until = tstamp_mono() + timeout_ms / 1000.0;
	size_t left;
	while ((left = kafka_dr_pending(dr)) > 0) {
		int ms = (int)((until - tstamp_mono()) * 1000);
		if (ms <= 0)
			break;
		rd_kafka_flush(p->rk, ms < 10 ? ms : 10);
	}
	return left;
}

static void kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	enum log_level lvl = level <= 3 ? LOG_ERROR : level <= 5 ? LOG_WARN : LOG_DEBUG;
	log_msg(lvl, "librdkafka", LOG_KV({"client", rd_kafka_name(rk)}, {"facility", fac}), "%s",
		buf);
}

static void kafka_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	char fatal[512];
	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
		log_error("kafka_fatal", "fatal kafka error %s: %s", rd_kafka_err2name(orig),
			  fatal);
		atomic_store(&kafka_fatal_flag, true);
		return;
	}
	log_msg(err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ? LOG_ERROR : LOG_WARN, "kafka_error",
		NULL, 0, "kafka error %s: %s", rd_kafka_err2name(err), reason);
}

static void kafka_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	char labels[160];
	snprintf(labels, sizeof(labels), "topic=\"%s\"", rd_kafka_topic_name(m->rkt));
	if (m->err)
		metrics_add(metrics_counter("cp_produce_failed_total",
					    "Messages whose delivery failed.", labels),
			    1);
	else
		metrics_add(
		    metrics_counter("cp_produced_total", "Messages delivered to Kafka.", labels),
		    1);
	struct kafka_dr_slot *slot = m->_private;
	if (!slot)
		return;
	struct kafka_dr *dr = slot->group;
	pthread_mutex_lock(&dr->lock);
	slot->err = m->err;
	slot->done = true;
	if (m->err) {
		dr->failed++;
		dr->last_err = m->err;
	}
	dr->pending--;
	pthread_cond_broadcast(&dr->cond);
	pthread_mutex_unlock(&dr->lock);
}

struct kafka_conf_ctx {
	rd_kafka_conf_t *conf;
	char *errstr;
	size_t errlen;
};

static int kafka_conf_set_one(const char *prop, const char *value, void *arg)
{
	struct kafka_conf_ctx *ctx = arg;
	if (rd_kafka_conf_set(ctx->conf, prop, value, ctx->errstr, ctx->errlen) != RD_KAFKA_CONF_OK)
		return -1;
	return 0;
}

/* Every client (producer, consumer; /readyz probes through the producer): how soon it is back
 * after a broker outage. The chaos battery (tests/chaos) SIGKILLs the broker and prints the
 * recovery; before these, every service was ready again 25-38 s after the kill, of which up to
 * 15 s were the clients waiting out their own back-off after the broker was up again. */
const char *const kafka_recovery_defaults[] = {
    /* librdkafka doubles the wait between reconnects to a broker up to this (10 s by default,
     * plus up to 50 % jitter): after a 20 s outage a client tried the restarted broker up to
     * 15 s after it was up. 1 s bounds that; a down broker sees at most one attempt per second
     * per connection (a few dozen for the six services). */
    "reconnect.backoff.max.ms", "1000",
    /* a broker whose address vanished (a dead pod: no RST, the SYN is dropped) is given up
     * after 5 s instead of 30 s, so the next attempt (or the next bootstrap address) comes
     * sooner; a live broker on a loaded host still answers a connect well within that */
    "socket.connection.setup.timeout.ms", "5000",
    /* TCP_NODELAY: with Nagle's algorithm a small request written while an earlier one on the
     * connection is not yet acknowledged waits for that acknowledgement, which the broker's
     * side delays (up to 40 ms) until it answers. An outbox relay that kept a second batch in
     * flight (tried, not kept) saw its acknowledgements take 0.8 s on average instead of 35 ms
     * in make bench's stack at 33 complaints/s; requests that overlap anyway (a produce and
     * the health probe's metadata request, a fetch and an offset commit) paid the same */
    "socket.nagle.disable", "true", NULL};

/* librdkafka's own latency windows for one client, as gauges in seconds labelled by the client
 * instance and the window (avg, p99, max over the statistics interval), the worst broker
 * connection's: rtt (a request's round trip to the broker and back), int_latency (a produced
 * message's wait in librdkafka's queue before its request is built) and outbuf_latency (a
 * request's wait in the output buffer before it is written to the socket). The acknowledgement
 * latency in make bench is split by stage; these say which side of a Kafka hop holds it. */
int kafka_stats_apply(const char *json, size_t len)
{
	static const char *const names[][2] = {
	    {"rtt", "cp_kafka_broker_rtt_seconds"},
	    {"int_latency", "cp_kafka_queue_latency_seconds"},
	    {"outbuf_latency", "cp_kafka_outbuf_latency_seconds"}};
	static const char *const helps[] = {
	    "Round trip of a request to the broker, the worst broker over the last statistics "
	    "interval (librdkafka).",
	    "Time a produced message waited in librdkafka's queue before its request was built, "
	    "the worst broker over the last statistics interval.",
	    "Time a request waited in the output buffer before it was written to the socket, the "
	    "worst broker over the last statistics interval."};
	static const char *const windows[] = {"avg", "p99", "max"};
	json_error_t e;
	json_t *root = json_loadb(json, len, 0, &e);
	const char *client = json_string_value(json_object_get(root, "name"));
	json_t *brokers = json_object_get(root, "brokers");
	if (!client || !json_is_object(brokers)) {
		json_decref(root);
		return -1;
	}
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		for (size_t w = 0; w < sizeof(windows) / sizeof(windows[0]); w++) {
			double worst = 0;
			const char *key;
			json_t *b;
			json_object_foreach (brokers, key, b) {
				/* the bootstrap and internal entries (nodeid -1) carry no requests
				 */
				if (json_integer_value(json_object_get(b, "nodeid")) < 0)
					continue;
				json_t *v =
				    json_object_get(json_object_get(b, names[k][0]), windows[w]);
				double us = (double)json_integer_value(v);
				worst = us > worst ? us : worst;
			}
			char labels[200];
			/* the instance name is librdkafka's (client.id#type-n): no quote or
			 * backslash */
			snprintf(labels, sizeof(labels), "client=\"%s\",window=\"%s\"", client,
				 windows[w]);
			metrics_set(metrics_gauge(names[k][1], helps[k], labels), worst / 1e6);
		}
	}
	json_decref(root);
	return 0;
}

static int kafka_stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
	if (kafka_stats_apply(json, len) != 0)
		log_debug("kafka_stats", "statistics without a client name or brokers: no gauges");
	return 0; /* librdkafka frees json */
}

static rd_kafka_conf_t *kafka_conf_new(const char *bootstrap, const char *client_id,
				       const char *own_prefix, const char *const *defaults,
				       char *errstr, size_t errlen)
{
	static const char *const skip_common[] = {"BOOTSTRAP_SERVERS", "PRODUCER_", "CONSUMER_",
						  NULL};
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	struct kafka_conf_ctx ctx = {conf, errstr, errlen};
	/* statistics.interval.ms: the latency gauges (kafka_stats_apply) every 5 s; the
	 * environment may change it (KAFKA_STATISTICS_INTERVAL_MS, 0 turns them off) */
	if (kafka_conf_set_one("bootstrap.servers", bootstrap, &ctx) ||
	    kafka_conf_set_one("client.id", client_id, &ctx) ||
	    kafka_conf_set_one("statistics.interval.ms", "5000", &ctx))
		goto failed;
	for (size_t i = 0; kafka_recovery_defaults[i]; i += 2)
		if (kafka_conf_set_one(kafka_recovery_defaults[i], kafka_recovery_defaults[i + 1],
				       &ctx))
			goto failed;
	for (size_t i = 0; defaults[i]; i += 2)
		if (kafka_conf_set_one(defaults[i], defaults[i + 1], &ctx))
			goto failed;
	if (cfg_passthrough("KAFKA_", skip_common, kafka_conf_set_one, &ctx) ||
	    cfg_passthrough(own_prefix, NULL, kafka_conf_set_one, &ctx))
		goto failed;
	rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
	rd_kafka_conf_set_error_cb(conf, kafka_error_cb);
	rd_kafka_conf_set_stats_cb(conf, kafka_stats_cb);
	return conf;
failed:
	rd_kafka_conf_destroy(conf);
	return NULL;
}

static void *kafka_poller_main(void *arg)
{
	struct kafka_producer *p = arg;
	while (!atomic_load(&p->stop))
		rd_kafka_poll(p->rk, 100);
	return NULL;
}

struct kafka_producer *kafka_producer_new(const char *bootstrap, const char *client_id,
					  char *errstr, size_t errlen)
{
	/* linger.ms 5: messages produced one by one (a relay's batch) share requests; the
	 * relay does not wait it out once its batch is produced (kafka_dr_send_wait) */
	static const char *const defaults[] = {"enable.idempotence",
					       "true",
					       "acks",
					       "all",
					       "linger.ms",
					       "5",
					       "compression.type",
					       "lz4",
					       "message.timeout.ms",
					       "60000",
					       NULL};
	struct kafka_producer *p = calloc(1, sizeof(*p));
	rd_kafka_conf_t *conf =
	    kafka_conf_new(bootstrap, client_id, "KAFKA_PRODUCER_", defaults, errstr, errlen);
	if (!p || !conf)
		goto failed_conf;
	rd_kafka_conf_set_dr_msg_cb(conf, kafka_dr_cb);
	p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, errlen);
	if (!p->rk)
		goto failed_conf;
	if (pthread_create(&p->poller, NULL, kafka_poller_main, p) != 0) {
		snprintf(errstr, errlen, "cannot start the delivery report thread");
		rd_kafka_destroy(p->rk);
		free(p);
		return NULL;
	}
	return p;
failed_conf:
	if (conf)
		rd_kafka_conf_destroy(conf);
	free(p);
	return NULL;
}

void kafka_producer_destroy(struct kafka_producer *p, int timeout_ms)
{
	if (!p)
		return;
	rd_kafka_resp_err_t err = rd_kafka_flush(p->rk, timeout_ms);
	if (err)
		log_warn("kafka_flush", "flush left %d messages: %s", rd_kafka_outq_len(p->rk),
			 rd_kafka_err2str(err));
	atomic_store(&p->stop, true);
	pthread_join(p->poller, NULL);
	rd_kafka_destroy(p->rk);
	free(p);
}

rd_kafka_t *kafka_producer_handle(struct kafka_producer *p)
{
	return p->rk;
}

int kafka_produce(struct kafka_producer *p, const char *topic, const char *key, const void *value,
		  size_t len, rd_kafka_headers_t *headers, struct kafka_dr_slot *slot, char *errstr,
		  size_t errlen)
{
	if (slot) {
		pthread_mutex_lock(&slot->group->lock);
		slot->group->pending++;
		slot->done = false;
		pthread_mutex_unlock(&slot->group->lock);
	}
	rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
	for (int tries = 0; tries < 100; tries++) {
		err = rd_kafka_producev(
		    p->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
		    RD_KAFKA_V_VALUE((void *)value, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		    RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_OPAQUE(slot), RD_KAFKA_V_END);
		if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
			break;
		usleep(50000); /* worker thread: the poller thread drains the queue meanwhile */
	}
	if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
		return 0;
	snprintf(errstr, errlen, "produce to %s failed: %s", topic, rd_kafka_err2str(err));
	if (slot) {
		pthread_mutex_lock(&slot->group->lock);
		slot->group->pending--;
		pthread_mutex_unlock(&slot->group->lock);
	}
	return -1;
}

struct kafka_consumer *kafka_consumer_new(const char *bootstrap, const char *group,
					  const char *const *topics, size_t ntopics, char *errstr,
					  size_t errlen)
{
	return kafka_consumer_new_props(bootstrap, group, topics, ntopics, NULL, errstr, errlen);
}

struct kafka_consumer *kafka_consumer_new_props(const char *bootstrap, const char *group,
						const char *const *topics, size_t ntopics,
						const char *const *props, char *errstr,
						size_t errlen)
{
	static const char *defaults[] = {"group.id",
					 NULL,
					 "enable.auto.offset.store",
					 "false",
					 "enable.auto.commit",
					 "true",
					 "auto.commit.interval.ms",
					 "1000",
					 "auto.offset.reset",
					 "earliest",
					 "fetch.wait.max.ms",
					 "50",
					 "partition.assignment.strategy",
					 "roundrobin",
					 "session.timeout.ms",
					 "10000",
					 "heartbeat.interval.ms",
					 "2000",
					 "max.poll.interval.ms",
					 "300000",
					 NULL};
	enum { NDEFAULTS = sizeof(defaults) / sizeof(defaults[0]) - 1, MAXPROPS = 16 };
	const char *conf_defaults[NDEFAULTS + 2 * MAXPROPS + 1];
	memcpy(conf_defaults, defaults, NDEFAULTS * sizeof(*defaults));
	conf_defaults[1] = group;
	size_t nd = NDEFAULTS;
	for (size_t i = 0; props && props[i] && props[i + 1] && i < 2 * MAXPROPS; i += 2) {
		conf_defaults[nd++] = props[i];
		conf_defaults[nd++] = props[i + 1];
	}
	conf_defaults[nd] = NULL;
	struct kafka_consumer *c = calloc(1, sizeof(*c));
	rd_kafka_conf_t *conf =
	    kafka_conf_new(bootstrap, group, "KAFKA_CONSUMER_", conf_defaults, errstr, errlen);
	if (!c || !conf)
		goto failed;
	c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, errlen);
	if (!c->rk)
		goto failed;
	conf = NULL;
	rd_kafka_poll_set_consumer(c->rk);
	rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new((int)ntopics);
	for (size_t i = 0; i < ntopics; i++)
		rd_kafka_topic_partition_list_add(subs, topics[i], RD_KAFKA_PARTITION_UA);
	rd_kafka_resp_err_t err = rd_kafka_subscribe(c->rk, subs);
	rd_kafka_topic_partition_list_destroy(subs);
	if (err) {
		snprintf(errstr, errlen, "subscribe failed: %s", rd_kafka_err2str(err));
		goto failed;
	}
	return c;
failed:
	if (conf)
		rd_kafka_conf_destroy(conf);
	if (c && c->rk)
		rd_kafka_destroy(c->rk);
	free(c);
	return NULL;
}

void kafka_consumer_lag_set(struct kafka_consumer *c, const char *topic, int32_t partition,
			    int64_t next)
{
	int64_t lo = 0, hi = 0;
	if (rd_kafka_get_watermark_offsets(c->rk, topic, partition, &lo, &hi) != 0 || hi <= 0)
		return;
	char labels[200];
	snprintf(labels, sizeof(labels), "topic=\"%s\",partition=\"%d\"", topic, partition);
	metrics_set(metrics_gauge("cp_consumer_lag", "Messages behind the partition end.", labels),
		    (double)(hi > next ? hi - next : 0));
}

static void kafka_consumer_note_lag(struct kafka_consumer *c, const rd_kafka_message_t *m)
{
	kafka_consumer_lag_set(c, rd_kafka_topic_name(m->rkt), m->partition, m->offset + 1);
}

static bool kafka_consumer_keep(rd_kafka_message_t *m)
{
	if (!m->err)
		return true;
	if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
		log_warn("kafka_consume", "consumer error: %s", rd_kafka_message_errstr(m));
	rd_kafka_message_destroy(m);
	return false;
}

size_t kafka_consumer_poll_batch(struct kafka_consumer *c, rd_kafka_message_t **msgs, size_t max,
				 int timeout_ms, int wait_ms)
{
	size_t n = 0;
	rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, timeout_ms);
	if (!m)
		return 0;
	double t0 = tstamp_mono();
	if (kafka_consumer_keep(m))
		msgs[n++] = m;
	/* wait_ms counts from the first message, not from the latest: a steady trickle (follow-up
	 * takes a dozen events per complaint) kept restarting a per-message wait, and the batch's
	 * first event (a customer's acknowledgement among them) waited for the trickle to pause.
	 * What is already fetched is still taken after the deadline: that costs no waiting. */
	double until = t0 + wait_ms / 1000.0;
	while (n < max) {
		int left = (int)((until - tstamp_mono()) * 1000.0 + 0.5);
		if (!(m = rd_kafka_consumer_poll(c->rk, left > 0 ? left : 0)))
			break;
		if (kafka_consumer_keep(m))
			msgs[n++] = m;
	}
	if (n > 0)
		kafka_consumer_note_lag(c, msgs[n - 1]);
	metrics_observe(metrics_histogram("cp_consume_collect_seconds",
					  "Time a batch spent collecting events after its first.",
					  NULL, NULL, 0),
			tstamp_mono() - t0);
	return n;
}

int kafka_consumer_store(struct kafka_consumer *c, rd_kafka_message_t **msgs, size_t n)
{
	if (n == 0)
		return 0;
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)n);
	for (size_t i = 0; i < n; i++) {
		rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_find(
		    l, rd_kafka_topic_name(msgs[i]->rkt), msgs[i]->partition);
		if (!tp)
			tp = rd_kafka_topic_partition_list_add(l, rd_kafka_topic_name(msgs[i]->rkt),
							       msgs[i]->partition);
		if (msgs[i]->offset + 1 > tp->offset)
			tp->offset = msgs[i]->offset + 1;
	}
	rd_kafka_resp_err_t err = rd_kafka_offsets_store(c->rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	if (err && err != RD_KAFKA_RESP_ERR__STATE) {
		log_warn("kafka_store", "offset store failed: %s", rd_kafka_err2str(err));
		return -1;
	}
	return 0;
}

/* The stored offsets committed (async: the request is sent, its answer not awaited); nothing
 * stored yet is not a failure. */
static void kafka_consumer_commit_stored(struct kafka_consumer *c, int async)
{
	rd_kafka_resp_err_t err = rd_kafka_commit(c->rk, NULL, async);
	if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
		log_warn("kafka_commit", "commit failed: %s", rd_kafka_err2str(err));
}

void kafka_consumer_commit(struct kafka_consumer *c)
{
	kafka_consumer_commit_stored(c, 0);
}

void kafka_consumer_commit_async(struct kafka_consumer *c)
{
	kafka_consumer_commit_stored(c, 1);
}

void kafka_consumer_destroy(struct kafka_consumer *c)
{
	if (!c)
		return;
	kafka_consumer_commit(c);
	rd_kafka_consumer_close(c->rk);
	rd_kafka_destroy(c->rk);
	free(c);
}

rd_kafka_t *kafka_consumer_handle(struct kafka_consumer *c)
{
	return c->rk;
}

static int kafka_partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	if (!rkt)
		return -1;
	rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
	int n = -1;
	if (!err && md && md->topic_cnt == 1 && !md->topics[0].err)
		n = md->topics[0].partition_cnt;
	if (md)
		rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(rkt);
	return n;
}

/* The committed offsets, not the positions of this process's consumers: the group may have
 * other members (replicas, evidence's parallel consumers), and what is committed is what the
 * group has applied to the database (offsets are stored after the commit), so the figure never
 * claims scans applied that are not. */
int kafka_consumer_group_lag(struct kafka_consumer *c, const char *topic, int timeout_ms,
			     int64_t *lag)
{
	int n = kafka_partition_count(c->rk, topic, timeout_ms);
	if (n < 0)
		return -1;
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n > 0 ? n : 1);
	for (int p = 0; p < n; p++)
		rd_kafka_topic_partition_list_add(l, topic, p);
	int rc = rd_kafka_committed(c->rk, l, timeout_ms) ? -1 : 0;
	*lag = 0;
	for (int i = 0; rc == 0 && i < l->cnt; i++) {
		rd_kafka_topic_partition_t *tp = &l->elems[i];
		int64_t lo = 0, hi = 0;
		if (tp->err || rd_kafka_query_watermark_offsets(c->rk, topic, tp->partition, &lo,
								&hi, timeout_ms)) {
			rc = -1;
			break;
		}
		int64_t done = tp->offset >= 0 ? tp->offset : lo;
		*lag += hi > done ? hi - done : 0;
	}
	rd_kafka_topic_partition_list_destroy(l);
	return rc;
}

bool kafka_reachable(rd_kafka_t *rk, int timeout_ms)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, NULL, &md, timeout_ms);
	if (md)
		rd_kafka_metadata_destroy(md);
	return err == RD_KAFKA_RESP_ERR_NO_ERROR;
}
