/* The service runtime: every service's main() is a table of contents handed to svc_main.
 *
 * svc_main: parses --help, loads the common and the service's configuration tables, sets up
 * JSON logging, the idempotent producer, the outbox relay, the consumer (if the service has
 * handlers), the periodic tasks (each on its own thread with its own PostgreSQL connection),
 * and the HTTP server with /healthz, /readyz and /metrics added to the service's routes.
 * SIGTERM/SIGINT: stop accepting HTTP, answer what is in flight, let the consumer finish and
 * commit its batch, let the relay finish its batch, flush the producer, close. A fatal Kafka
 * error ends the process with status 1 (the outbox makes the restart lose nothing). */
#ifndef CP_SVC_H
#define CP_SVC_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "cfg.h"
#include "consumer.h"
#include "httpd.h"
#include "kafka.h"

/* A periodic task: returns >0 when it did work (it runs again at once), 0 when idle (it
 * sleeps interval_ms), -1 on a database error (the connection is reset, it retries). */
struct svc_task {
	const char *name;
	int (*fn)(PGconn *c, void *arg);
	const long long *interval_ms; /* points into the service's configuration */
};

struct svc_def {
	const char *name; /* "intake": binary cp-intake, ce_source /cp/intake */
	const char *summary;
	int default_port;
	const struct cfg_entry *cfg;
	size_t ncfg;
	const struct consumer_handler *handlers;
	size_t nhandlers;
	const struct consumer_set_handler *sets; /* the set-based side of some handlers */
	size_t nsets;
	const struct http_route *routes;
	size_t nroutes;
	const struct svc_task *tasks;
	size_t ntasks;
	/* The largest binary upload a route takes (bytes; points into the service's
	 * configuration), NULL when the service takes only JSON bodies. */
	const long long *max_upload;
	/* The projection that knows complaint ids and numbers (consumer_ids), or NULL. */
	const struct consumer_ids *ids;
	/* A topic whose apply takes more database time per event than one backend keeps up
	 * with (evidence: parcel.tracking.v1), or NULL: CONSUMER_PARALLEL more consumers of it
	 * alone join the service's group, each with its own connection, so its partitions are
	 * applied side by side. Its handlers must not depend on events of the other topics
	 * arriving first (a group of several replicas splits partitions the same way). */
	const char *parallel_topic;
	/* true: the consumer's fetch is answered as soon as one event is there, for a service
	 * whose events a person waits on (follow-up: the customer's acknowledgement); false: it
	 * is paced (svc_consumer_fetch_props). */
	bool prompt_fetch;
	/* Runs after the configuration is loaded, before anything starts. */
	int (*init)(char *errstr, size_t errlen);
	void *arg;
};

/* The configuration every service shares. */
struct svc_config {
	char *http_addr;
	long long http_port;
	char *database_url;
	char *kafka_bootstrap;
	char *log_level;
	long long http_workers;
	long long batch_max;
	long long batch_wait_ms;
	long long parallel_consumers;
	bool set_apply;
	long long outbox_batch;
	long long max_body;
	char *auth_tokens;
	char *session_secret;
	char *session_authority_url;
	long long session_sync_ms;
	long long session_stale_ms;
	char *instance_id;
	bool dev_mode;	 /* DEV_MODE: a development run may use the dev-only-* secret defaults */
	bool production; /* PRODUCTION: refuse every development shortcut */
	long long drain_seconds; /* DRAIN_TIMEOUT_SECONDS: longest wait for requests in flight */
	long long stall_seconds; /* CONSUMER_STALL_SECONDS: a batch held longer: not ready */
};

const struct svc_config *svc_config(void);

/* The process's producer, for services that must produce outside the outbox (rare: the
 * outbox is the rule). NULL before svc_main started it. */
struct kafka_producer *svc_producer(void);

/* Runs the periodic task called name now instead of after its interval (the work it polls
 * for was just committed by this process); the next run after that follows the interval
 * again. Any thread; a name no task has does nothing. */
void svc_task_wake(const char *name);

/* Readiness from a dependency's probes: one success makes it up at once, failures make it
 * down only when `threshold` come in a row (*fails counts them; start it at 0). Returns whether
 * the dependency counts as up after this probe. */
bool svc_probe_judge(int *fails, bool ok, int threshold);

/* The committed lag of the service's consumer group on topic (consumer_group_lag), for a
 * periodic task that must not act on a projection still behind its events. Blocks up to a few
 * seconds on the brokers: task threads only. 0, or -1 when unknown (no consumer, no answer). */
int svc_consumer_group_lag(const char *topic, int64_t *lag) __attribute__((warn_unused_result));

/* The librdkafka properties of a service's consumers over kafka.c's defaults (name, value, ...,
 * NULL; static): NULL when prompt (a fetch answered as soon as one event is there, else after
 * 50 ms), else a paced fetch (answered once 64 KiB are there or after 100 ms). */
const char *const *svc_consumer_fetch_props(bool prompt);

int svc_main(int argc, char **argv, const struct svc_def *def);

#endif
