/* cp-admin: the one-shot set-up job.
 *   cp-admin migrate   create the per-service roles and schemas, apply deploy/sql once each
 *   cp-admin topics    create every Kafka topic (idempotent)
 * Configuration from the environment; `cp-admin --help` lists it. */
#include <dirent.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "cfg.h"
#include "log.h"
#include "pg.h"
#include "topics.h"

static const char *const admin_services[] = {"intake",	   "classification", "evidence",
					     "resolution", "followup",	     "timer"};
#define ADMIN_NSERVICES 6

static struct {
	char *admin_url;
	char *migrations_dir;
	char *bootstrap;
	long long partitions;
	long long replication;
} admin_cfg;

static const struct cfg_entry admin_table[] = {
    {"ADMIN_DATABASE_URL", CFG_SECRET, "postgresql://postgres@127.0.0.1:55432/complaints", 0, 0,
     "superuser libpq URI of database complaints (migrate)", &admin_cfg.admin_url},
    {"MIGRATIONS_DIR", CFG_STR, "deploy/sql", 0, 0, "directory of the NNNN_name.sql migrations",
     &admin_cfg.migrations_dir},
    {"KAFKA_BOOTSTRAP_SERVERS", CFG_STR, "127.0.0.1:59092", 0, 0,
     "Kafka bootstrap servers (topics)", &admin_cfg.bootstrap},
    {"TOPIC_PARTITIONS", CFG_INT, "3", 1, 256, "partitions of each topic", &admin_cfg.partitions},
    {"TOPIC_REPLICATION", CFG_INT, "1", 1, 5, "replication factor of each topic",
     &admin_cfg.replication},
    {"DB_PASSWORD_<SERVICE>", CFG_STR, "(the service name)", 0, 0,
     "login password of each service role, e.g. DB_PASSWORD_INTAKE", NULL},
};
#define ADMIN_NCFG (sizeof(admin_table) / sizeof(admin_table[0]))

static int admin_role(PGconn *c, const char *svc)
{
	char var[64];
	snprintf(var, sizeof(var), "DB_PASSWORD_%s", svc);
	for (char *p = var; *p; p++)
		*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
	/* DB_PASSWORD_<SERVICE>_FILE: the password as a mounted secret (Kubernetes, Compose) */
	char *pw = NULL, err[256];
	const struct cfg_entry e = {var, CFG_SECRET, svc, 0, 0, "", &pw};
	if (cfg_load(&e, 1, err, sizeof(err)) != 0) {
		log_error("migrate", "%s", err);
		return -1;
	}
	const char *params[] = {svc, pw};
	/* Identifiers and the password are quoted by the server (format %I/%L), never spliced. */
	PGresult *r =
	    pg_query(c,
		     "SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1::text) "
		     "THEN format('ALTER ROLE %I LOGIN PASSWORD %L', $1::text, $2::text) "
		     "ELSE format('CREATE ROLE %I LOGIN PASSWORD %L', $1::text, $2::text) END, "
		     "format('CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION %I', $1, $1), "
		     "format('ALTER ROLE %I SET search_path = %I, public', $1, $1), "
		     "format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), $1)",
		     2, params);
	free(pw);
	if (!r)
		return -1;
	int rc = 0;
	for (int i = 0; i < 4 && rc == 0; i++)
		rc = pg_exec(c, PQgetvalue(r, 0, i), 0, NULL);
	PQclear(r);
	return rc;
}

static int admin_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *admin_read(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	if (buf)
		buf[n] = '\0';
	fclose(f);
	return buf;
}

/* The recorded state of one migration: 1 applied (stored filled, "" when no checksum was
 * recorded), 0 not applied, -1 on error. */
static int admin_recorded(PGconn *c, const char *name, char *stored, size_t cap)
{
	const char *params[] = {name};
	PGresult *r =
	    pg_query(c, "SELECT coalesce(sha256, '') FROM public.schema_migrations WHERE name = $1",
		     1, params);
	if (!r)
		return -1;
	int applied = PQntuples(r) > 0;
	snprintf(stored, cap, "%s", pg_value(r, 0, 0, ""));
	PQclear(r);
	return applied;
}

static int admin_run(PGconn *c, const char *name, const char *sum, const char *sql)
{
	const char *params[] = {name, sum};
	int rc = pg_begin(c);
	/* Recorded first: the file may SET LOCAL ROLE to its service for the rest of the tx. */
	if (rc == 0)
		rc = pg_exec(c,
			     "INSERT INTO public.schema_migrations (name, sha256) VALUES ($1, $2)",
			     2, params);
	if (rc == 0) {
		PGresult *res = PQexec(c, sql); /* a trusted file: several statements, no params */
		rc = PQresultStatus(res) == PGRES_COMMAND_OK ||
			     PQresultStatus(res) == PGRES_TUPLES_OK
			 ? 0
			 : -1;
		if (rc != 0)
			log_error("migrate", "%s failed: %s", name, PQerrorMessage(c));
		PQclear(res);
	}
	if (rc == 0)
		rc = pg_commit(c);
	else
		pg_rollback(c);
	if (rc == 0)
		log_msg(LOG_INFO, "migrated", LOG_KV({"migration", name}), "applied");
	return rc;
}

static int admin_apply(PGconn *c, const char *name)
{
	char path[1024], stored[ADMIN_SHA256_HEX], sum[ADMIN_SHA256_HEX];
	snprintf(path, sizeof(path), "%s/%s", admin_cfg.migrations_dir, name);
	char *sql = admin_read(path);
	if (!sql) {
		log_error("migrate", "cannot read %s", path);
		return -1;
	}
	admin_sha256_hex(sql, strlen(sql), sum);
	int applied = admin_recorded(c, name, stored, sizeof(stored));
	int rc = applied < 0 ? -1 : 0;
	const char *params[] = {name, sum};
	switch (applied < 0 ? ADMIN_MIGRATION_UNCHANGED
			    : admin_migration_check(applied == 1, stored, sum)) {
	case ADMIN_MIGRATION_NEW:
		rc = admin_run(c, name, sum, sql);
		break;
	case ADMIN_MIGRATION_BACKFILL:
		/* applied before checksums were kept: trust the file as it is now */
		rc = pg_exec(c, "UPDATE public.schema_migrations SET sha256 = $2 WHERE name = $1",
			     2, params);
		break;
	case ADMIN_MIGRATION_CHANGED:
		log_msg(LOG_ERROR, "migration_changed",
			LOG_KV({"migration", name}, {"recorded", stored}, {"current", sum}),
			"%s was edited after it was applied; add a new migration instead "
			"of editing %s",
			name, path);
		fprintf(stderr, "cp-admin: migration %s changed after it was applied\n", name);
		rc = -1;
		break;
	case ADMIN_MIGRATION_UNCHANGED:
		break;
	}
	free(sql);
	return rc;
}

static int admin_apply_all(PGconn *c)
{
	DIR *d = opendir(admin_cfg.migrations_dir);
	char *names[512];
	size_t n = 0;
	struct dirent *e;
	if (!d) {
		log_error("migrate", "cannot open %s", admin_cfg.migrations_dir);
		return -1;
	}
	while ((e = readdir(d)) != NULL && n < 512) {
		size_t len = strlen(e->d_name);
		if (len > 4 && strcmp(e->d_name + len - 4, ".sql") == 0)
			names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(char *), admin_cmp);
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		if (rc == 0)
			rc = admin_apply(c, names[i]);
		free(names[i]);
	}
	return rc;
}

static int admin_migrate(void)
{
	PGconn *c = PQconnectdb(admin_cfg.admin_url);
	int rc = -1;
	if (PQstatus(c) != CONNECTION_OK) {
		log_error("migrate", "cannot connect: %s", PQerrorMessage(c));
		goto out;
	}
	if (pg_exec(c, "SELECT pg_advisory_lock(727274)", 0, NULL) != 0 ||
	    pg_exec(c,
		    "CREATE TABLE IF NOT EXISTS public.schema_migrations (name text PRIMARY KEY, "
		    "applied_at timestamptz NOT NULL DEFAULT now())",
		    0, NULL) != 0 ||
	    pg_exec(c, "ALTER TABLE public.schema_migrations ADD COLUMN IF NOT EXISTS sha256 text",
		    0, NULL) != 0)
		goto out;
	rc = 0;
	for (size_t i = 0; i < ADMIN_NSERVICES && rc == 0; i++)
		rc = admin_role(c, admin_services[i]);
	if (rc == 0)
		rc = admin_apply_all(c);
out:
	PQfinish(c);
	return rc;
}

struct admin_conf {
	rd_kafka_conf_t *conf;
	char *errstr;
	size_t errlen;
};

static int admin_conf_set(const char *prop, const char *value, void *arg)
{
	struct admin_conf *ac = arg;
	return rd_kafka_conf_set(ac->conf, prop, value, ac->errstr, ac->errlen) == RD_KAFKA_CONF_OK
		   ? 0
		   : -1;
}

static int admin_topics(void)
{
	char errstr[512] = "";
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	/* the services' KAFKA_* properties too (SASL, TLS, KAFKA_SASL_PASSWORD_FILE): an
	 * operator's broker that wants them would refuse the admin client without */
	static const char *const skip[] = {"BOOTSTRAP_SERVERS", "PRODUCER_", "CONSUMER_", NULL};
	struct admin_conf ac = {conf, errstr, sizeof(errstr)};
	if (rd_kafka_conf_set(conf, "bootstrap.servers", admin_cfg.bootstrap, errstr,
			      sizeof(errstr)) != RD_KAFKA_CONF_OK ||
	    cfg_passthrough("KAFKA_", skip, admin_conf_set, &ac) != 0) {
		log_error("topics", "%s", errstr);
		rd_kafka_conf_destroy(conf);
		return -1;
	}
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!rk) {
		log_error("topics", "%s", errstr);
		return -1;
	}
	rd_kafka_NewTopic_t *nt[TOPICS_COUNT];
	for (size_t i = 0; i < TOPICS_COUNT; i++)
		nt[i] = rd_kafka_NewTopic_new(topics_all[i], (int)admin_cfg.partitions,
					      (int)admin_cfg.replication, errstr, sizeof(errstr));
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *opts =
	    rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
	rd_kafka_AdminOptions_set_operation_timeout(opts, 30000, errstr, sizeof(errstr));
	rd_kafka_AdminOptions_set_request_timeout(opts, 60000, errstr, sizeof(errstr));
	rd_kafka_CreateTopics(rk, nt, TOPICS_COUNT, opts, q);
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 70000);
	int rc = -1;
	const rd_kafka_CreateTopics_result_t *res =
	    ev ? rd_kafka_event_CreateTopics_result(ev) : NULL;
	if (ev && rd_kafka_event_error(ev)) {
		log_error("topics", "create topics failed: %s", rd_kafka_event_error_string(ev));
	} else if (res) {
		size_t n = 0;
		const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &n);
		rc = 0;
		for (size_t i = 0; i < n; i++) {
			rd_kafka_resp_err_t err = rd_kafka_topic_result_error(tr[i]);
			if (err && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
				log_error("topics", "%s: %s", rd_kafka_topic_result_name(tr[i]),
					  rd_kafka_topic_result_error_string(tr[i]));
				rc = -1;
			} else {
				log_msg(LOG_INFO, "topic_ready",
					LOG_KV({"topic", rd_kafka_topic_result_name(tr[i])}),
					err ? "exists" : "created");
			}
		}
	} else {
		log_error("topics", "no answer from the broker");
	}
	if (ev)
		rd_kafka_event_destroy(ev);
	rd_kafka_AdminOptions_destroy(opts);
	rd_kafka_NewTopic_destroy_array(nt, TOPICS_COUNT);
	rd_kafka_queue_destroy(q);
	rd_kafka_destroy(rk);
	return rc;
}

int main(int argc, char **argv)
{
	char errstr[512];
	log_init("admin", LOG_INFO);
	const char *cmd = argc > 1 ? argv[1] : "--help";
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		cfg_print_help(
		    stdout, "admin",
		    "one-shot set-up: `cp-admin migrate` (roles, schemas, SQL migrations), "
		    "`cp-admin topics` (Kafka topics), `cp-admin pseudonyms rekey` (move stored "
		    "customer_ref to the current PSEUDONYM_KEY after a rotation), `cp-admin dlq "
		    "list` and "
		    "`cp-admin dlq replay` (dead letters back to their topics)",
		    admin_table, ADMIN_NCFG);
		return 0;
	}
	if (cfg_load(admin_table, ADMIN_NCFG - 1, errstr, sizeof(errstr)) != 0) {
		fprintf(stderr, "cp-admin: %s\n", errstr);
		return 2;
	}
	if (strcmp(cmd, "migrate") == 0)
		return admin_migrate() == 0 ? 0 : 1;
	if (strcmp(cmd, "topics") == 0)
		return admin_topics() == 0 ? 0 : 1;
	if (strcmp(cmd, "pseudonyms") == 0 && argc > 2 && strcmp(argv[2], "rekey") == 0)
		return admin_pseudonyms_rekey(admin_cfg.admin_url);
	if (strcmp(cmd, "dlq") == 0)
		return admin_dlq(admin_cfg.bootstrap, argc - 2, argv + 2);
	fprintf(stderr,
		"cp-admin: unknown command '%s' (migrate, topics, pseudonyms rekey, dlq, --help)\n",
		cmd);
	return 2;
}
