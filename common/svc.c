#include "svc.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backoff.h"

#include "auth.h"
#include "log.h"
#include "metrics.h"
#include "outbox.h"
#include "pg.h"
#include "session.h"
#include "tstamp.h"

#define SVC_MAX_TASKS	 16
#define SVC_MAX_PARALLEL 8

struct svc_task_run {
	const struct svc_task *task;
	void *arg;
	struct pg_conn pg;
	pthread_t thread;
	bool wake; /* svc_task_wake asked for a run now (under svc.lock) */
};

struct svc {
	const struct svc_def *def;
	struct event_base *base;
	struct httpd *http;
	struct http_route *routes;
	struct kafka_producer *producer;
	struct outbox_relay *relay;
	struct consumer *consumer;
	struct consumer *parallel[SVC_MAX_PARALLEL]; /* def->parallel_topic's extra consumers */
	struct consumer_handler *parallel_handlers;  /* its handlers, which they share */
	struct svc_task_run tasks[SVC_MAX_TASKS];
	size_t ntasks;
	pthread_t health;
	struct event *sigterm, *sigint, *tick;
	atomic_bool stop;
	atomic_bool pg_ok, kafka_ok;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	double drain_deadline;
	bool draining;
	int exit_code;
	bool dev_secrets; /* running on development secrets (DEV_MODE=true): said at /readyz */
};

static struct svc_config svc_cfg;
static struct svc svc;
static char svc_port_default[16], svc_db_default[256], svc_instance_default[96];

const struct svc_config *svc_config(void)
{
	return &svc_cfg;
}

struct kafka_producer *svc_producer(void)
{
	return svc.producer;
}

static const struct cfg_entry svc_common_cfg[] = {
    {"HTTP_ADDR", CFG_STR, "127.0.0.1", 0, 0, "address the HTTP server listens on",
     &svc_cfg.http_addr},
    {"HTTP_PORT", CFG_INT, svc_port_default, 1, 65535, "port of this service's HTTP server",
     &svc_cfg.http_port},
    {"DATABASE_URL", CFG_SECRET, svc_db_default, 0, 0,
     "libpq connection URI; the service's own login role and schema", &svc_cfg.database_url},
    {"KAFKA_BOOTSTRAP_SERVERS", CFG_STR, "127.0.0.1:59092", 0, 0, "Kafka bootstrap servers",
     &svc_cfg.kafka_bootstrap},
    {"LOG_LEVEL", CFG_STR, "info", 0, 0, "debug, info, warn or error", &svc_cfg.log_level},
    {"HTTP_WORKERS", CFG_INT, "8", 1, 64,
     "worker threads (each with a database connection) serving HTTP requests",
     &svc_cfg.http_workers},
    {"CONSUMER_BATCH_MAX", CFG_INT, "500", 1, 10000,
     "most events applied in one database transaction", &svc_cfg.batch_max},
    {"CONSUMER_BATCH_WAIT_MS", CFG_INT, "5", 0, 1000,
     "how long a batch waits for more events once one arrived", &svc_cfg.batch_wait_ms},
    /* 2: with the 3 partitions of parcel.tracking.v1 (deploy/scripts/kafka.sh num.partitions)
     * evidence's main consumer and two more take one each. In make bench evidence was the
     * only consumer of the topic still behind when intake and classification had caught
     * up (at 4 s of 10), bound by its one backend's 19 ms of CPU per 1,000 scans, while the
     * cores were idle a quarter of the phase. More than the partitions less one sit idle. */
    {"CONSUMER_PARALLEL", CFG_INT, "2", 0, SVC_MAX_PARALLEL,
     "more consumers of a service's heavy topic (evidence: parcel.tracking.v1) in its group, "
     "each with its own database connection, so its partitions are applied side by side",
     &svc_cfg.parallel_consumers},
    {"CONSUMER_SET_APPLY", CFG_BOOL, "true", 0, 0,
     "handlers that can apply a batch's events as one set do so (a few statements per batch); "
     "false applies every event on its own (the reference path, for comparison)",
     &svc_cfg.set_apply},
    {"OUTBOX_BATCH_MAX", CFG_INT, "500", 1, 10000, "most outbox events published per batch",
     &svc_cfg.outbox_batch},
    {"HTTP_MAX_BODY_BYTES", CFG_INT, "65536", 1024, 1048576,
     "largest accepted request body; larger gets 413", &svc_cfg.max_body},
    {"AUTH_TOKENS", CFG_SECRET, "", 0, 0,
     "staff bearer tokens: token:role:staff_id,... (roles agent, supervisor, admin, "
     "integration)",
     &svc_cfg.auth_tokens},
    {"SESSION_SECRET", CFG_SECRET, "dev-only-session-secret", 0, 0,
     "signs staff session cookies and their CSRF tokens; the same in every service (each "
     "checks a signed-in staff member's cookie by itself)",
     &svc_cfg.session_secret},
    {"SESSION_AUTHORITY_URL", CFG_STR, "http://127.0.0.1:8082", 0, 0,
     "base URL of the service that owns staff sessions (classification), polled for revoked "
     "sessions; empty: cookie sessions are refused, bearer tokens only",
     &svc_cfg.session_authority_url},
    {"SESSION_SYNC_MS", CFG_INT, "1000", 50, 60000,
     "how often the revoked sessions are fetched from SESSION_AUTHORITY_URL (the longest a "
     "sign-out takes to reach the other services)",
     &svc_cfg.session_sync_ms},
    {"SESSION_STALE_MS", CFG_INT, "30000", 1000, 3600000,
     "cookie sessions are refused (503) when the revocations were not fetched for this long",
     &svc_cfg.session_stale_ms},
    {"INSTANCE_ID", CFG_STR, svc_instance_default, 0, 0, "name of this instance in logs and locks",
     &svc_cfg.instance_id},
    {"DEV_MODE", CFG_BOOL, "false", 0, 0,
     "a development run: the known dev-only-* secret defaults are accepted (with a warning at "
     "start and in /readyz); without it a service refuses to start on them",
     &svc_cfg.dev_mode},
    {"PRODUCTION", CFG_BOOL, "false", 0, 0,
     "a production run: refuses to start with DEV_MODE=true, on a dev-only-* secret or on the "
     "built-in DATABASE_URL (whose password is the role's name)",
     &svc_cfg.production},
    /* 60 s: a batch takes milliseconds and a PostgreSQL restart or a broker's failover holds
     * one for seconds (the fault battery: up to about 20 s); a minute of one batch not applied
     * is an operator's problem (a revoked grant, a lock held, a broken connection), not load */
    {"CONSUMER_STALL_SECONDS", CFG_INT, "60", 1, 86400,
     "a consumer that has held one batch without applying it for longer than this (retrying "
     "it, or waiting in a statement) is reported stalled, with the reason, in /readyz's body "
     "and the consumer_stalled log (cp_consumer_stalled_seconds tells how long)",
     &svc_cfg.stall_seconds},
    {"DRAIN_TIMEOUT_SECONDS", CFG_INT, "10", 1, 600,
     "on SIGTERM, the longest wait for requests in flight before stopping (an orchestrator's "
     "grace period must exceed it plus about 20 s for the last batch and the producer flush)",
     &svc_cfg.drain_seconds},
};

#define SVC_NCOMMON (sizeof(svc_common_cfg) / sizeof(svc_common_cfg[0]))

static struct cfg_entry *svc_all_cfg(const struct svc_def *def, size_t *n)
{
	struct cfg_entry *all = calloc(SVC_NCOMMON + def->ncfg, sizeof(*all));
	if (!all)
		return NULL;
	memcpy(all, svc_common_cfg, sizeof(svc_common_cfg));
	if (def->ncfg)
		memcpy(all + SVC_NCOMMON, def->cfg, def->ncfg * sizeof(*all));
	*n = SVC_NCOMMON + def->ncfg;
	return all;
}

static void svc_defaults(const struct svc_def *def)
{
	char host[64] = "localhost";
	gethostname(host, sizeof(host) - 1);
	snprintf(svc_port_default, sizeof(svc_port_default), "%d", def->default_port);
	snprintf(svc_db_default, sizeof(svc_db_default),
		 "postgresql://%s:%s@127.0.0.1:55432/complaints", def->name, def->name);
	snprintf(svc_instance_default, sizeof(svc_instance_default), "%s-%s-%d", def->name, host,
		 (int)getpid());
}

/* --- health: a thread probes PostgreSQL and Kafka so /readyz never blocks the loop --- */

/* Sleeps for seconds, or until the service stops, or (when wake is given) until *wake is set
 * (svc_task_wake), which it clears. Waits again after a wake-up meant for another thread:
 * every sleeper shares svc.cond. */
static void svc_wait(double seconds, bool *wake)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)seconds;
	until.tv_nsec += (long)((seconds - (double)(long)seconds) * 1e9);
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&svc.lock);
	while (!atomic_load(&svc.stop) && !(wake && *wake))
		if (pthread_cond_timedwait(&svc.cond, &svc.lock, &until) == ETIMEDOUT)
			break;
	if (wake)
		*wake = false;
	pthread_mutex_unlock(&svc.lock);
}

void svc_task_wake(const char *name)
{
	pthread_mutex_lock(&svc.lock);
	for (size_t i = 0; i < svc.ntasks; i++)
		if (strcmp(svc.tasks[i].task->name, name) == 0)
			svc.tasks[i].wake = true;
	pthread_cond_broadcast(&svc.cond);
	pthread_mutex_unlock(&svc.lock);
}

bool svc_probe_judge(int *fails, bool ok, int threshold)
{
	*fails = ok ? 0 : *fails + 1;
	return *fails < threshold;
}

/* The consumers' stall watch: sets cp_consumer_stalled_seconds for the service's group (the
 * longest any of its consumers has held one batch) and returns it; info says which batch. */
static double svc_consumer_stall(struct consumer_stall_info *info)
{
	struct consumer_stall_info one;
	/* a batch takes milliseconds: held for a second, the lag counts from it */
	consumer_stall_lag(svc.consumer, 1.0);
	double worst = consumer_stall(svc.consumer, info);
	for (size_t i = 0; i < SVC_MAX_PARALLEL && svc.parallel[i]; i++) {
		consumer_stall_lag(svc.parallel[i], 1.0);
		double secs = consumer_stall(svc.parallel[i], &one);
		if (secs > worst) {
			worst = secs;
			*info = one;
		}
	}
	if (svc.consumer) {
		char labels[160];
		snprintf(labels, sizeof(labels), "group=\"cp-%s\"", svc.def->name);
		metrics_set(
		    metrics_gauge("cp_consumer_stalled_seconds",
				  "Seconds the consumer has held one batch of events without "
				  "applying and committing it (0: none held).",
				  labels),
		    worst);
	}
	return worst;
}

/* Logs when the consumers become stalled and when they recover (the health thread). */
static void svc_watch_consumers(bool *was_stalled)
{
	struct consumer_stall_info info = {0};
	double secs = svc_consumer_stall(&info);
	bool stalled = secs > (double)svc_cfg.stall_seconds;
	if (stalled && !*was_stalled)
		log_msg(LOG_ERROR, "consumer_stalled",
			LOG_KV({"group", info.group}, {"sqlstate", info.error}),
			"a batch of %zu events not applied for %.0f s (%d failed tries); /readyz "
			"names the reason",
			info.events, secs, info.tries);
	else if (!stalled && *was_stalled)
		log_info("consumer_recovered", "the consumer applies its events again");
	*was_stalled = stalled;
}

/* A Kafka probe is a metadata request queued on the producer's broker connection behind
 * whatever the producer is sending; on two saturated cores (a burst, a tracking backlog) one
 * can miss its 2 s timeout while the broker is fine, and /readyz flapped to 503. Two misses
 * in a row (at least 4 s without an answer) mark Kafka down; a dead broker is still reported
 * within about 6 s, inside the orchestrator's failureThreshold x periodSeconds anyway. A
 * PostgreSQL probe fails fast (refused, reset) and waits rather than times out while the
 * server is busy, so one failure is believed. */
#define SVC_KAFKA_PROBE_MISSES 2

static void *svc_health_main(void *arg)
{
	struct pg_conn pg;
	if (pg_conn_init(&pg, svc_cfg.database_url, "health") != 0)
		return NULL;
	int kafka_misses = 0;
	bool stalled = false;
	while (!atomic_load(&svc.stop)) {
		svc_watch_consumers(&stalled);
		PGconn *c = pg_conn_get(&pg);
		bool ok = c && pg_exec(c, "SELECT 1", 0, NULL) == 0;
		if (!ok && c)
			pg_conn_reset(&pg);
		atomic_store(&svc.pg_ok, ok);
		bool answered = kafka_reachable(kafka_producer_handle(svc.producer), 2000);
		atomic_store(&svc.kafka_ok,
			     svc_probe_judge(&kafka_misses, answered, SVC_KAFKA_PROBE_MISSES));
		bool up = atomic_load(&svc.pg_ok) && atomic_load(&svc.kafka_ok);
		metrics_set(
		    metrics_gauge("cp_up", "1 when PostgreSQL and Kafka are reachable.", NULL), up);
		/* Every 2 s while both answer; after a miss (even one not yet believed), probe
		 * again at once (a Kafka probe waits up to its 2 s timeout for a broker anyway), so
		 * /readyz turns 200 within a quarter second of the broker or PostgreSQL being back
		 * instead of up to 2 s later, and a second Kafka miss comes 2.25 s after the first.
		 */
		svc_wait(ok && answered ? 2 : 0.25, NULL);
	}
	pg_conn_release(&pg);
	return NULL;
}

static void svc_healthz(struct http_req *r, void *arg)
{
	http_reply_json(r, 200,
			json_pack("{s:s, s:s}", "status", "alive", "service", svc.def->name));
}

/* A consumer stuck on one batch past CONSUMER_STALL_SECONDS is reported here, with the
 * reason (intake's consumer once retried one batch for ever on a connection it could not use,
 * and nothing said so), but it does not make the instance unready: readiness decides whether
 * the orchestrator sends HTTP requests here, and they do not go through the consumer. A stall
 * has one cause in every replica alike (a revoked grant, a held lock), so 503 would take the
 * whole service's API away from customers and staff for a projection that is late; the
 * ComplaintsConsumerStalled alert tells a person instead. */
static void svc_readyz(struct http_req *r, void *arg)
{
	bool pg = atomic_load(&svc.pg_ok), kafka = atomic_load(&svc.kafka_ok);
	struct consumer_stall_info info = {0};
	double stall = svc_consumer_stall(&info);
	bool stalled = stall > (double)svc_cfg.stall_seconds;
	bool ready = pg && kafka && !atomic_load(&svc.stop);
	json_t *body = json_pack("{s:s, s:s, s:s, s:b}", "status", ready ? "ready" : "not_ready",
				 "postgres", pg ? "up" : "down", "kafka", kafka ? "up" : "down",
				 "development_secrets", svc.dev_secrets);
	if (body && svc.consumer) {
		char reason[256] = "";
		if (stalled)
			snprintf(
			    reason, sizeof(reason),
			    "%s has held a batch of %zu events for %.0f s without applying it "
			    "(%d failed tries, last error %s; limit CONSUMER_STALL_SECONDS=%lld)",
			    info.group, info.events, stall, info.tries,
			    info.error[0] ? info.error : "none: a statement waits",
			    svc_cfg.stall_seconds);
		json_object_set_new(body, "consumer", json_string(stalled ? "stalled" : "ok"));
		json_object_set_new(body, "consumer_stalled_seconds", json_real(stall));
		if (stalled)
			json_object_set_new(body, "reason", json_string(reason));
	}
	http_reply_json(r, ready ? 200 : 503, body);
}

static void svc_metrics(struct http_req *r, void *arg)
{
	metrics_process_update();
	(void)svc_consumer_stall(&(struct consumer_stall_info){0}); /* the gauge as of now */
	char *text = metrics_render();
	http_reply_text(r, 200, "text/plain; version=0.0.4", text ? text : "");
	free(text);
}

int svc_consumer_group_lag(const char *topic, int64_t *lag)
{
	return consumer_group_lag(svc.consumer, topic, 2000, lag);
}

/* --- periodic tasks --- */

static void *svc_task_main(void *arg)
{
	struct svc_task_run *t = arg;
	struct backoff bo;
	backoff_init(&bo, 100, 5000);
	while (!atomic_load(&svc.stop)) {
		PGconn *c = pg_conn_get(&t->pg);
		int rc = c ? t->task->fn(c, t->arg) : -1;
		if (rc > 0)
			continue;
		if (rc < 0) {
			if (c && PQstatus(c) != CONNECTION_OK)
				pg_conn_reset(&t->pg);
			svc_wait(backoff_next_ms(&bo) / 1000.0, NULL);
			continue;
		}
		backoff_reset(&bo);
		svc_wait((double)*t->task->interval_ms / 1000.0, &t->wake);
	}
	return NULL;
}

/* Every service checks staff session cookies itself and so keeps the revoked ones current
 * (session.h); the blocking fetch runs on this task's thread, never on the loop. */
static const struct svc_task svc_session_task = {"session_sync", session_sync_task,
						 &svc_cfg.session_sync_ms};

static int svc_start_task(const struct svc_task *task, void *arg, char *errstr, size_t errlen)
{
	struct svc_task_run *t = &svc.tasks[svc.ntasks];
	t->task = task;
	t->arg = arg;
	if (pg_conn_init(&t->pg, svc_cfg.database_url, task->name) != 0 ||
	    pthread_create(&t->thread, NULL, svc_task_main, t) != 0) {
		snprintf(errstr, errlen, "cannot start task %s", task->name);
		return -1;
	}
	pthread_mutex_lock(&svc.lock); /* svc_task_wake reads the table from other threads */
	svc.ntasks++;
	pthread_mutex_unlock(&svc.lock);
	return 0;
}

static int svc_start_tasks(const struct svc_def *def, char *errstr, size_t errlen)
{
	for (size_t i = 0; i < def->ntasks && i + 1 < SVC_MAX_TASKS; i++)
		if (svc_start_task(&def->tasks[i], def->arg, errstr, errlen) != 0)
			return -1;
	if (svc_cfg.session_authority_url[0])
		return svc_start_task(&svc_session_task, NULL, errstr, errlen);
	return 0;
}

static void svc_stop_tasks(void)
{
	pthread_mutex_lock(&svc.lock);
	atomic_store(&svc.stop, true);
	pthread_cond_broadcast(&svc.cond);
	pthread_mutex_unlock(&svc.lock);
	for (size_t i = 0; i < svc.ntasks; i++) {
		pthread_join(svc.tasks[i].thread, NULL);
		pg_conn_release(&svc.tasks[i].pg);
	}
	svc.ntasks = 0;
}

/* --- the loop: signals, drain, fatal errors --- */

static void svc_begin_shutdown(int code)
{
	if (svc.draining)
		return;
	svc.draining = true;
	svc.exit_code = code;
	svc.drain_deadline = tstamp_mono() + (double)svc_cfg.drain_seconds;
	log_info("shutdown", "stopping: no new requests, finishing work in flight");
	if (svc.http)
		httpd_stop_accepting(svc.http);
}

static void svc_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	svc_begin_shutdown(0);
}

static void svc_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	if (kafka_fatal())
		svc_begin_shutdown(1);
	if (!svc.draining)
		return;
	if (!svc.http || httpd_inflight(svc.http) == 0 || tstamp_mono() > svc.drain_deadline)
		event_base_loopexit(svc.base, NULL);
}

static int svc_start_http(const struct svc_def *def, char *errstr, size_t errlen)
{
	size_t n = def->nroutes + 3;
	struct http_route *routes = calloc(n, sizeof(*routes));
	if (!routes)
		return -1;
	/* public on the service's own port; the front door does not route /metrics */
	routes[0] = (struct http_route){"GET", "/healthz", svc_healthz, false, AUTH_PUBLIC};
	routes[1] = (struct http_route){"GET", "/readyz", svc_readyz, false, AUTH_PUBLIC};
	routes[2] = (struct http_route){"GET", "/metrics", svc_metrics, false, AUTH_PUBLIC};
	if (def->nroutes)
		memcpy(routes + 3, def->routes, def->nroutes * sizeof(*routes));
	struct httpd_opts o = {.addr = svc_cfg.http_addr,
			       .port = (int)svc_cfg.http_port,
			       .workers = (int)svc_cfg.http_workers,
			       .max_body = (size_t)svc_cfg.max_body,
			       .max_upload = def->max_upload ? (size_t)*def->max_upload : 0,
			       .conninfo = svc_cfg.database_url,
			       .arg = def->arg,
			       .authorize = auth_route_check};
	svc.routes = routes; /* freed in svc_teardown, after the server */
	svc.http = httpd_new(svc.base, &o, routes, n, errstr, errlen);
	return svc.http ? 0 : -1;
}

/* A fetch the broker answers as soon as one event is there is completed by the request thread
 * of each produce that appends one (Kafka completes a partition's waiting fetches right after
 * the append), so every such consumer of a topic adds a fetch answer and a new fetch to every
 * produce to it. In make bench's ack phase (81 complaints/s, a shared machine) the broker's
 * average round trip to intake's relay fell from 157-1318 ms to 19-222 ms in three same-binary
 * pairs once all but follow-up's were paced (README "Benchmark"). Paced: answered when 64 KiB
 * of record batches have arrived or after 100 ms, so a stream costs one fetch per 64 KiB
 * instead of one per produce request, and idle half the polls of the 50 ms default. */
static const char *const svc_paced_fetch[] = {"fetch.wait.max.ms", "100", "fetch.min.bytes",
					      "65536", NULL};

const char *const *svc_consumer_fetch_props(bool prompt)
{
	return prompt ? NULL : svc_paced_fetch;
}

/* The extra consumers of def->parallel_topic: the same group, the same settings, only that
 * topic's handlers (so the group's other topics stay with the main consumer, in its order). */
static int svc_start_parallel(const struct svc_def *def, const struct consumer_def *main_def,
			      char *errstr, size_t errlen)
{
	if (!def->parallel_topic || svc_cfg.parallel_consumers <= 0)
		return 0;
	size_t n = 0;
	svc.parallel_handlers = calloc(def->nhandlers, sizeof(*svc.parallel_handlers));
	if (!svc.parallel_handlers)
		return -1;
	for (size_t i = 0; i < def->nhandlers; i++)
		if (strcmp(def->handlers[i].topic, def->parallel_topic) == 0)
			svc.parallel_handlers[n++] = def->handlers[i];
	/* These consumers read the heavy topic alone, whose events wait for nothing urgent (a
	 * scan is stored; no person waits for it): paced whatever the main consumer does. 100 ms
	 * rather than more: a consumer that has caught up waits up to that long for the last
	 * scans. */
	struct consumer_def cd = *main_def;
	cd.handlers = svc.parallel_handlers;
	cd.nhandlers = n;
	cd.kafka_props = svc_consumer_fetch_props(false);
	for (long long i = 0; n > 0 && i < svc_cfg.parallel_consumers; i++) {
		svc.parallel[i] = consumer_start(&cd, svc_cfg.kafka_bootstrap, svc_cfg.database_url,
						 svc.producer, errstr, errlen);
		if (!svc.parallel[i])
			return -1;
	}
	return 0;
}

static int svc_start_events(const struct svc_def *def, char *errstr, size_t errlen)
{
	char client[128], group[128];
	snprintf(client, sizeof(client), "cp-%s", def->name);
	svc.producer = kafka_producer_new(svc_cfg.kafka_bootstrap, client, errstr, errlen);
	if (!svc.producer)
		return -1;
	svc.relay = outbox_relay_start(svc_cfg.database_url, svc.producer,
				       (int)svc_cfg.outbox_batch, errstr, errlen);
	if (!svc.relay)
		return -1;
	if (def->nhandlers == 0)
		return 0;
	snprintf(group, sizeof(group), "cp-%s", def->name);
	struct consumer_def cd = {group,
				  def->handlers,
				  def->nhandlers,
				  def->arg,
				  (int)svc_cfg.batch_max,
				  (int)svc_cfg.batch_wait_ms,
				  def->sets,
				  def->nsets,
				  svc_cfg.set_apply,
				  def->ids,
				  svc_consumer_fetch_props(def->prompt_fetch)};
	log_msg(LOG_INFO, "consumer_fetch",
		LOG_KV({"fetch", def->prompt_fetch ? "prompt" : "paced"}), "consumer fetches %s",
		def->prompt_fetch ? "as soon as an event is there" : "paced");
	svc.consumer = consumer_start(&cd, svc_cfg.kafka_bootstrap, svc_cfg.database_url,
				      svc.producer, errstr, errlen);
	if (!svc.consumer)
		return -1;
	return svc_start_parallel(def, &cd, errstr, errlen);
}

static int svc_start_loop(void)
{
	evthread_use_pthreads();
	signal(SIGPIPE, SIG_IGN);
	svc.base = event_base_new();
	if (!svc.base)
		return -1;
	svc.sigterm = evsignal_new(svc.base, SIGTERM, svc_signal_cb, NULL);
	svc.sigint = evsignal_new(svc.base, SIGINT, svc_signal_cb, NULL);
	svc.tick = event_new(svc.base, -1, EV_PERSIST, svc_tick_cb, NULL);
	struct timeval tv = {0, 100000};
	if (!svc.sigterm || !svc.sigint || !svc.tick || evsignal_add(svc.sigterm, NULL) ||
	    evsignal_add(svc.sigint, NULL) || event_add(svc.tick, &tv))
		return -1;
	return 0;
}

static void svc_teardown(void)
{
	svc_stop_tasks();
	if (svc.health)
		pthread_join(svc.health, 0);
	for (size_t i = 0; i < SVC_MAX_PARALLEL; i++)
		consumer_stop(svc.parallel[i]);
	free(svc.parallel_handlers);
	consumer_stop(svc.consumer);
	outbox_relay_stop(svc.relay);
	if (svc.http)
		httpd_free(svc.http);
	free(svc.routes);
	kafka_producer_destroy(svc.producer, 10000);
	if (svc.tick)
		event_free(svc.tick);
	if (svc.sigterm)
		event_free(svc.sigterm);
	if (svc.sigint)
		event_free(svc.sigint);
	if (svc.base)
		event_base_free(svc.base);
}

/* CP_VERSION and CP_COMMIT, written by the Makefile */
#include "cp_version.h"

/* --routes: the service's route table as JSON lines {"method","path","roles":[...]}, read by
 * tests/system/test_api_contract.py to check the nginx front door and the OpenAPI document
 * against the one place the routes are written. */
static void svc_print_routes(const struct svc_def *def)
{
	for (size_t i = 0; i < def->nroutes; i++) {
		char names[160];
		auth_roles_names(def->routes[i].roles, names, sizeof(names));
		json_t *roles = json_array();
		for (char *save = NULL, *t = strtok_r(names, ",", &save); t;
		     t = strtok_r(NULL, ",", &save))
			json_array_append_new(roles, json_string(t));
		json_t *j = json_pack("{s:s, s:s, s:s, s:o}", "service", def->name, "method",
				      def->routes[i].method, "path", def->routes[i].pattern,
				      "roles", roles);
		char *line = json_dumps(j, JSON_COMPACT);
		if (line)
			printf("%s\n", line);
		free(line);
		json_decref(j);
	}
}

/* --help, --version, --routes, --print-config, or an unknown argument (exit 2, as kcat does): -1
 * done (exit 0), 1 print the configuration once loaded, 2 bad usage, 0 go on. */
static int svc_arguments(int argc, char **argv, const struct svc_def *def,
			 const struct cfg_entry *all, size_t n)
{
	if (argc < 2)
		return 0;
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		cfg_print_help(stdout, def->name, def->summary, all, n);
		printf("\nArguments: --help, --version, --print-config (the effective "
		       "configuration, secrets redacted; exits 2 if it is invalid)\n");
		return -1;
	}
	if (strcmp(argv[1], "--routes") == 0) {
		svc_print_routes(def);
		return -1;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("cp-%s %s (commit %s)\n", def->name, CP_VERSION, CP_COMMIT);
		return -1;
	}
	if (strcmp(argv[1], "--print-config") == 0 && argc == 2)
		return 1;
	fprintf(stderr,
		"cp-%s: unknown argument '%s'; configuration comes from the environment "
		"(see --help)\n",
		def->name, argv[1]);
	return 2;
}

/* A known development secret is refused unless this is an explicit development run: a
 * service on a published default would let anyone forge customer links or reverse the
 * pseudonyms. */
static int svc_check_secrets(const struct cfg_entry *all, size_t n, char *errstr, size_t errlen)
{
	char names[256];
	/* PRODUCTION=true states the intent, so a development switch left in a manifest, or the
	 * built-in database password, stops the start instead of running quietly */
	if (svc_cfg.production && svc_cfg.dev_mode) {
		snprintf(errstr, errlen, "PRODUCTION=true and DEV_MODE=true contradict each other");
		return -1;
	}
	if (svc_cfg.production && strcmp(svc_cfg.database_url, svc_db_default) == 0) {
		snprintf(errstr, errlen,
			 "DATABASE_URL: PRODUCTION=true refuses the built-in development URL; set "
			 "DATABASE_URL (or DATABASE_URL_FILE) to the operator's database");
		return -1;
	}
	if (cfg_dev_secrets(all, n, names, sizeof(names)) == 0)
		return 0;
	if (!svc_cfg.dev_mode || svc_cfg.production) {
		snprintf(errstr, errlen,
			 "%s: known development secret(s) in use; set each (or NAME_FILE) to a "
			 "secret of your own, or set DEV_MODE=true for a development run",
			 names);
		return -1;
	}
	svc.dev_secrets = true;
	log_warn("development_secrets",
		 "DEVELOPMENT MODE: %s use the published dev-only defaults; never expose this "
		 "instance",
		 names);
	/* loud: also on stderr, which an operator sees even with the JSON log shipped away */
	fprintf(stderr,
		"cp-%s: WARNING: DEVELOPMENT MODE: %s use the published dev-only defaults; anyone "
		"can forge customer links with them. Never expose this instance; PRODUCTION=true "
		"refuses to start like this.\n",
		svc.def->name, names);
	return 0;
}

static int svc_configure(int argc, char **argv, const struct svc_def *def)
{
	char errstr[512];
	size_t n = 0;
	svc.def = def;
	svc_defaults(def);
	struct cfg_entry *all = svc_all_cfg(def, &n);
	if (!all)
		return 1;
	int rc = svc_arguments(argc, argv, def, all, n);
	bool print_config = rc == 1;
	if (rc != 0 && !print_config) {
		free(all);
		return rc;
	}
	rc = cfg_load(all, n, errstr, sizeof(errstr));
	bool cfg_loaded = rc == 0;
	enum log_level lvl = LOG_INFO;
	if (rc == 0 && log_level_parse(svc_cfg.log_level, &lvl) != 0) {
		snprintf(errstr, sizeof(errstr),
			 "LOG_LEVEL: '%s' is not one of debug, info, warn, "
			 "error",
			 svc_cfg.log_level);
		rc = -1;
	}
	log_init(def->name, lvl);
	if (rc == 0)
		rc = svc_check_secrets(all, n, errstr, sizeof(errstr));
	if (print_config) {
		/* printed even when refused, so the operator sees what was read; exit 2 then */
		if (rc == 0 || cfg_loaded)
			cfg_print_config(stdout, all, n);
		if (rc != 0)
			fprintf(stderr, "cp-%s: %s\n", def->name, errstr);
		free(all);
		return rc == 0 ? -1 : 2;
	}
	free(all);
	if (rc == 0 && auth_load(svc_cfg.auth_tokens, errstr, sizeof(errstr)) != 0)
		rc = -1;
	if (rc == 0 && session_init(svc_cfg.session_secret, svc_cfg.session_authority_url,
				    svc_cfg.session_stale_ms) != 0) {
		snprintf(errstr, sizeof(errstr), "SESSION_SECRET: cannot start the session check");
		rc = -1;
	}
	if (rc == 0 && def->init && def->init(errstr, sizeof(errstr)) != 0)
		rc = -1;
	if (rc != 0) {
		log_error("config_invalid", "%s", errstr);
		fprintf(stderr, "cp-%s: %s (see --help)\n", def->name, errstr);
		return 2;
	}
	return 0;
}

int svc_main(int argc, char **argv, const struct svc_def *def)
{
	char errstr[512] = "";
	char source[96];
	int rc = svc_configure(argc, argv, def);
	if (rc != 0)
		return rc < 0 ? 0 : rc;
	svc.def = def;
	char build[160];
	snprintf(build, sizeof(build), "version=\"%s\",commit=\"%s\"", CP_VERSION, CP_COMMIT);
	metrics_set(metrics_gauge("cp_build_info",
				  "The running build: 1, labelled with its version "
				  "and commit.",
				  build),
		    1);
	pthread_mutex_init(&svc.lock, NULL);
	pthread_cond_init(&svc.cond, NULL);
	snprintf(source, sizeof(source), "/cp/%s", def->name);
	outbox_set_source(source);
	if (svc_start_loop() != 0 || svc_start_events(def, errstr, sizeof(errstr)) != 0 ||
	    pthread_create(&svc.health, NULL, svc_health_main, NULL) != 0 ||
	    svc_start_tasks(def, errstr, sizeof(errstr)) != 0 ||
	    svc_start_http(def, errstr, sizeof(errstr)) != 0) {
		log_error("start_failed", "cannot start: %s", errstr);
		svc_teardown();
		return 1;
	}
	log_msg(LOG_INFO, "started", LOG_KV({"instance", svc_cfg.instance_id}),
		"listening on %s:%lld", svc_cfg.http_addr, svc_cfg.http_port);
	event_base_dispatch(svc.base);
	svc_teardown();
	log_info("stopped", "stopped cleanly");
	return svc.exit_code;
}
