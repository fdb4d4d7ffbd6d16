/* Unit tests of the messaging modules.
 *
 * Kafka faults run on librdkafka's in-process mock cluster (no broker needed): the idempotent
 * producer survives injected leader errors without losing, duplicating or reordering, and a
 * dead broker turns into failed delivery reports, never silent loss.
 *
 * The outbox/inbox SQL and the relay need PostgreSQL: they run when CP_TEST_DATABASE_URL
 * names a superuser connection (the system tests do that against the real server,
 * tests/system/test_common_messaging.py); without it they are not registered. */
#include <arpa/inet.h>
#include <check.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth.h"
#include "httpd.h"
#include "inbox.h"
#include "kafka.h"
#include "log.h"
#include "outbox.h"
#include "pg.h"
#include "sla.pb-c.h"

#define APIKEY_PRODUCE 0

static struct kafka_producer *mock_producer(rd_kafka_mock_cluster_t **mc)
{
	char err[256];
	setenv("KAFKA_PRODUCER_TEST_MOCK_NUM_BROKERS", "1", 1);
	struct kafka_producer *p = kafka_producer_new("unused:9092", "unit", err, sizeof(err));
	unsetenv("KAFKA_PRODUCER_TEST_MOCK_NUM_BROKERS");
	ck_assert_msg(p != NULL, "%s", err);
	*mc = rd_kafka_handle_mock_cluster(kafka_producer_handle(p));
	ck_assert_ptr_nonnull(*mc);
	return p;
}

/* Reads every message of topic partition 0 from the mock cluster, in order. */
static int read_back(rd_kafka_mock_cluster_t *mc, const char *topic, int *seq, int max)
{
	char err[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "bootstrap.servers", rd_kafka_mock_cluster_bootstraps(mc), err,
			  sizeof(err));
	rd_kafka_conf_set(conf, "group.id", "unit-reader", err, sizeof(err));
	rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", err, sizeof(err));
	rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
	rd_kafka_assign(c, l);
	rd_kafka_topic_partition_list_destroy(l);
	int n = 0, idle = 0;
	while (n < max && idle < 30) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
		if (!m) {
			idle++;
			continue;
		}
		if (!m->err)
			seq[n++] = atoi(m->payload ? (const char *)m->payload : "-1");
		rd_kafka_message_destroy(m);
	}
	rd_kafka_consumer_close(c);
	rd_kafka_destroy(c);
	return n;
}

START_TEST(idempotent_producer_survives_leader_errors_in_order)
{
	rd_kafka_mock_cluster_t *mc;
	struct kafka_producer *p = mock_producer(&mc);
	rd_kafka_mock_topic_create(mc, "unit.t1", 1, 1);
	rd_kafka_mock_push_request_errors(
	    mc, APIKEY_PRODUCE, 3, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
	    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
	struct kafka_dr dr;
	struct kafka_dr_slot slots[100];
	char err[256], buf[16];
	kafka_dr_init(&dr);
	for (int i = 0; i < 100; i++) {
		slots[i].group = &dr;
		snprintf(buf, sizeof(buf), "%d", i);
		ck_assert_int_eq(kafka_produce(p, "unit.t1", "k", buf, strlen(buf) + 1, NULL,
					       &slots[i], err, sizeof(err)),
				 0);
	}
	ck_assert_int_eq(kafka_dr_wait(&dr, 30000), 0);
	ck_assert_int_eq(dr.failed, 0);
	int seq[200];
	int n = read_back(mc, "unit.t1", seq, 200);
	ck_assert_int_eq(n, 100);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(seq[i], i);
	kafka_dr_destroy(&dr);
	kafka_producer_destroy(p, 5000);
}
END_TEST

START_TEST(dead_broker_yields_failed_reports_not_silence)
{
	rd_kafka_mock_cluster_t *mc;
	setenv("KAFKA_PRODUCER_MESSAGE_TIMEOUT_MS", "1500", 1);
	struct kafka_producer *p = mock_producer(&mc);
	unsetenv("KAFKA_PRODUCER_MESSAGE_TIMEOUT_MS");
	rd_kafka_mock_topic_create(mc, "unit.t2", 1, 1);
	rd_kafka_mock_broker_set_down(mc, 1);
	struct kafka_dr dr;
	struct kafka_dr_slot slots[5];
	char err[256];
	kafka_dr_init(&dr);
	for (int i = 0; i < 5; i++) {
		slots[i].group = &dr;
		ck_assert_int_eq(
		    kafka_produce(p, "unit.t2", "k", "x", 1, NULL, &slots[i], err, sizeof(err)), 0);
	}
	ck_assert_int_eq(kafka_dr_wait(&dr, 20000), 0);
	ck_assert_int_eq(dr.failed, 5);
	for (int i = 0; i < 5; i++) {
		ck_assert(slots[i].done);
		ck_assert_int_ne(slots[i].err, RD_KAFKA_RESP_ERR_NO_ERROR);
	}
	kafka_dr_destroy(&dr);
	kafka_producer_destroy(p, 1000);
}
END_TEST

/* ---- PostgreSQL-backed tests (CP_TEST_DATABASE_URL) ---- */

static PGconn *db;

static void db_setup(void)
{
	db = PQconnectdb(getenv("CP_TEST_DATABASE_URL"));
	ck_assert_int_eq(PQstatus(db), CONNECTION_OK);
	ck_assert_int_eq(pg_exec(db, "DROP SCHEMA IF EXISTS cp_unit CASCADE", 0, NULL), 0);
	ck_assert_int_eq(pg_exec(db, "CREATE SCHEMA cp_unit", 0, NULL), 0);
	ck_assert_int_eq(pg_exec(db, "SELECT public.cp_create_messaging('cp_unit')", 0, NULL), 0);
	ck_assert_int_eq(pg_exec(db, "SET search_path = cp_unit, public", 0, NULL), 0);
}

static void db_teardown(void)
{
	PQfinish(db);
}

static long long count(const char *sql)
{
	PGresult *r = pg_query(db, sql, 0, NULL);
	ck_assert_ptr_nonnull(r);
	long long n = atoll(PQgetvalue(r, 0, 0));
	PQclear(r);
	return n;
}

static void sample_event(Cp__SlaEvent *ev)
{
	cp__sla_event__init(ev);
	ev->complaint_id = "00000000-0000-4000-8000-000000000001";
	ev->clock = "first_response";
	ev->kind = "breach";
}

START_TEST(outbox_row_commits_or_rolls_back_with_the_change)
{
	Cp__SlaEvent ev;
	char id[IDS_UUID_LEN];
	sample_event(&ev);
	outbox_set_source("/cp/unit");
	ck_assert_int_eq(pg_begin(db), 0);
	ck_assert_int_eq(outbox_add(db, "unit.topic", "k1", "cp.unit.rolled_back", &ev.base, id),
			 0);
	pg_rollback(db);
	ck_assert_int_eq(count("SELECT count(*) FROM outbox"), 0);
	ck_assert_int_eq(pg_begin(db), 0);
	ck_assert_int_eq(outbox_add(db, "unit.topic", "k1", "cp.unit.kept", &ev.base, id), 0);
	ck_assert_int_eq(pg_commit(db), 0);
	const char *p[] = {id};
	PGresult *r =
	    pg_query(db,
		     "SELECT ce_type, ce_source, topic, msg_key, payload, sent_at IS NULL "
		     "FROM outbox WHERE ce_id = $1",
		     1, p);
	ck_assert_int_eq(PQntuples(r), 1);
	ck_assert_str_eq(PQgetvalue(r, 0, 0), "cp.unit.kept");
	ck_assert_str_eq(PQgetvalue(r, 0, 1), "/cp/unit");
	ck_assert_str_eq(PQgetvalue(r, 0, 3), "k1");
	ck_assert_str_eq(PQgetvalue(r, 0, 5), "t");
	size_t len = 0;
	unsigned char *bytes = PQunescapeBytea((const unsigned char *)PQgetvalue(r, 0, 4), &len);
	Cp__SlaEvent *back = cp__sla_event__unpack(NULL, len, bytes);
	ck_assert_ptr_nonnull(back);
	ck_assert_str_eq(back->clock, "first_response");
	cp__sla_event__free_unpacked(back, NULL);
	PQfreemem(bytes);
	PQclear(r);
}
END_TEST

START_TEST(inbox_claims_an_event_once)
{
	ck_assert_int_eq(pg_begin(db), 0);
	ck_assert_int_eq(inbox_claim(db, "/cp/x", "id-1", "t"), 1);
	ck_assert_int_eq(inbox_claim(db, "/cp/x", "id-1", "t"), 0);
	ck_assert_int_eq(inbox_claim(db, "/cp/y", "id-1", "t"), 1);
	pg_rollback(db);
	ck_assert_int_eq(pg_begin(db), 0);
	ck_assert_int_eq(inbox_claim(db, "/cp/x", "id-1", "t"), 1); /* the rollback forgot it */
	ck_assert_int_eq(pg_commit(db), 0);
	ck_assert_int_eq(pg_begin(db), 0);
	ck_assert_int_eq(inbox_claim(db, "/cp/x", "id-1", "t"), 0);
	pg_rollback(db);
}
END_TEST

START_TEST(prepared_statements_are_prepared_once_per_connection)
{
	const char *p[] = {"41"};
	for (int i = 0; i < 3; i++) {
		PGresult *r = pg_query_prepared(db, "unit_plus_one", "SELECT $1::int + 1", 1, p);
		ck_assert_ptr_nonnull(r);
		ck_assert_str_eq(PQgetvalue(r, 0, 0), "42");
		PQclear(r);
	}
	ck_assert_int_eq(count("SELECT count(*) FROM pg_prepared_statements WHERE name = "
			       "'unit_plus_one'"),
			 1);
	/* a new session (new backend) prepares again instead of failing */
	PGconn *other = PQconnectdb(getenv("CP_TEST_DATABASE_URL"));
	ck_assert_int_eq(PQstatus(other), CONNECTION_OK);
	PGresult *r = pg_query_prepared(other, "unit_plus_one", "SELECT $1::int + 1", 1, p);
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(PQgetvalue(r, 0, 0), "42");
	PQclear(r);
	PQfinish(other);
	/* a failing execution reports its SQLSTATE like pg_query */
	const char *bad[] = {"x"};
	ck_assert_ptr_null(pg_query_prepared(db, "unit_plus_one", "SELECT $1::int + 1", 1, bad));
	ck_assert_str_eq(pg_last_sqlstate(), "22P02");
}
END_TEST

START_TEST(plannable_statements_are_prepared_by_pg_query)
{
	static const char sql[] = "SELECT $1::int * 2 AS unit_auto_prepared";
	const char *p[] = {"21"};
	for (int i = 0; i < 3; i++) {
		PGresult *r = pg_query(db, sql, 1, p);
		ck_assert_ptr_nonnull(r);
		ck_assert_str_eq(PQgetvalue(r, 0, 0), "42");
		PQclear(r);
	}
	/* prepared once on this connection, then only executed */
	ck_assert_int_eq(count("SELECT count(*) FROM pg_prepared_statements WHERE statement = "
			       "'SELECT $1::int * 2 AS unit_auto_prepared'"),
			 1);
	/* prepared again once its time is up (0 here: at every run), never twice at once */
	pg_set_replan_seconds(0);
	for (int i = 0; i < 3; i++) {
		PGresult *r = pg_query(db, sql, 1, p);
		ck_assert_msg(r != NULL, "%s", pg_last_error());
		ck_assert_str_eq(PQgetvalue(r, 0, 0), "42");
		PQclear(r);
	}
	pg_set_replan_seconds(60);
	ck_assert_int_eq(count("SELECT count(*) FROM pg_prepared_statements WHERE statement = "
			       "'SELECT $1::int * 2 AS unit_auto_prepared'"),
			 1);
	/* a search with optional filters is planned for its values each time */
	const char *none[] = {NULL};
	PGresult *opt = pg_query(db, "SELECT 1 WHERE $1::text IS NULL OR $1 = 'x'", 1, none);
	ck_assert_ptr_nonnull(opt);
	ck_assert_int_eq(PQntuples(opt), 1);
	PQclear(opt);
	ck_assert_int_eq(count("SELECT count(*) FROM pg_prepared_statements WHERE statement = "
			       "'SELECT 1 WHERE $1::text IS NULL OR $1 = ''x'''"),
			 0);
	/* nor is a statement without parameters (planned on its tables' size of the moment) */
	ck_assert_int_eq(pg_exec(db, "SELECT 42 AS unit_no_params", 0, NULL), 0);
	ck_assert_int_eq(count("SELECT count(*) FROM pg_prepared_statements WHERE statement = "
			       "'SELECT 42 AS unit_no_params'"),
			 0);
	/* transaction control is not prepared (and still works) */
	ck_assert_int_eq(pg_begin(db), 0);
	ck_assert_int_eq(pg_commit(db), 0);
	ck_assert_int_eq(count("SELECT count(*) FROM pg_prepared_statements WHERE statement IN "
			       "('BEGIN', 'COMMIT')"),
			 0);
	/* more named statements on one thread than the old ring of 16 held: none is prepared
	 * twice on the same backend (that failed with 42P05 "already exists") */
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 40; i++) {
			char name[32], q[64];
			snprintf(name, sizeof(name), "unit_many_%d", i);
			snprintf(q, sizeof(q), "SELECT %d + $1::int", i);
			PGresult *r = pg_query_prepared(db, name, q, 1, p);
			ck_assert_msg(r != NULL, "%s: %s", name, pg_last_error());
			ck_assert_int_eq(atoi(PQgetvalue(r, 0, 0)), i + 21);
			PQclear(r);
		}
	}
}
END_TEST

START_TEST(a_commit_with_outbox_rows_wakes_the_relay)
{
	Cp__SlaEvent ev;
	sample_event(&ev);
	unsigned long before = outbox_wake_count();
	ck_assert_int_eq(pg_begin(db), 0);
	ck_assert_int_eq(outbox_add(db, "unit.topic", "k1", "cp.unit.woken", &ev.base, NULL), 0);
	ck_assert_int_eq(pg_commit(db), 0);
	ck_assert_uint_eq(outbox_wake_count(), before + 1);
	/* a rolled back row and a transaction without rows wake nobody */
	ck_assert_int_eq(pg_begin(db), 0);
	ck_assert_int_eq(outbox_add(db, "unit.topic", "k1", "cp.unit.gone", &ev.base, NULL), 0);
	pg_rollback(db);
	ck_assert_int_eq(pg_begin(db), 0);
	ck_assert_int_eq(pg_exec(db, "SELECT 1", 0, NULL), 0);
	ck_assert_int_eq(pg_commit(db), 0);
	ck_assert_uint_eq(outbox_wake_count(), before + 1);
	/* the outbox has no NOTIFY trigger: its commits share WAL flushes (no cluster-wide
	 * notify lock held through each commit) */
	ck_assert_int_eq(count("SELECT count(*) FROM pg_trigger WHERE tgrelid = "
			       "'cp_unit.outbox'::regclass AND NOT tgisinternal"),
			 0);
}
END_TEST

START_TEST(deferred_outbox_rows_are_written_together_in_order)
{
	Cp__SlaEvent ev;
	char ids[3][IDS_UUID_LEN];
	sample_event(&ev);
	ck_assert_int_eq(pg_begin(db), 0);
	outbox_defer(true);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(
		    outbox_add(db, "unit.topic", "k", "cp.unit.deferred", &ev.base, ids[i]), 0);
	/* held: not in the table until the flush, even within the transaction */
	ck_assert_int_eq(count("SELECT count(*) FROM outbox WHERE ce_type = 'cp.unit.deferred'"),
			 0);
	ck_assert_int_eq(outbox_defer_flush(db), 0);
	outbox_defer(false);
	unsigned long before = outbox_wake_count();
	ck_assert_int_eq(pg_commit(db), 0);
	ck_assert_uint_eq(outbox_wake_count(), before + 1);
	PGresult *r =
	    pg_query(db,
		     "SELECT ce_id::text, length(payload) > 0 FROM outbox WHERE ce_type = "
		     "'cp.unit.deferred' ORDER BY id",
		     0, NULL);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(PQntuples(r), 3);
	for (int i = 0; i < 3; i++) { /* the ids handed out at once, in the order added */
		ck_assert_str_eq(PQgetvalue(r, i, 0), ids[i]);
		ck_assert_str_eq(PQgetvalue(r, i, 1), "t");
	}
	PQclear(r);
	/* rows held by a try that is then given up are never written */
	ck_assert_int_eq(pg_begin(db), 0);
	outbox_defer(true);
	ck_assert_int_eq(outbox_add(db, "unit.topic", "k", "cp.unit.dropped", &ev.base, NULL), 0);
	outbox_defer(false);
	ck_assert_int_eq(pg_commit(db), 0);
	ck_assert_int_eq(count("SELECT count(*) FROM outbox WHERE ce_type = 'cp.unit.dropped'"), 0);
}
END_TEST

static long long wait_count(const char *sql, long long want, int seconds)
{
	long long n = -1;
	for (int i = 0; i < seconds * 10 && (n = count(sql)) != want; i++)
		usleep(100000);
	return n;
}

START_TEST(relay_marks_rows_sent_only_after_delivery)
{
	rd_kafka_mock_cluster_t *mc;
	char err[256], conninfo[1024];
	setenv("KAFKA_PRODUCER_MESSAGE_TIMEOUT_MS", "1000", 1);
	struct kafka_producer *p = mock_producer(&mc);
	unsetenv("KAFKA_PRODUCER_MESSAGE_TIMEOUT_MS");
	rd_kafka_mock_topic_create(mc, "unit.relay", 1, 1);
	Cp__SlaEvent ev;
	sample_event(&ev);
	rd_kafka_mock_broker_set_down(mc, 1);
	ck_assert_int_eq(pg_begin(db), 0);
	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(outbox_add(db, "unit.relay", "k", "cp.unit.e", &ev.base, NULL), 0);
	ck_assert_int_eq(pg_commit(db), 0);
	snprintf(conninfo, sizeof(conninfo), "%s%coptions=-csearch_path%%3Dcp_unit",
		 getenv("CP_TEST_DATABASE_URL"),
		 strchr(getenv("CP_TEST_DATABASE_URL"), '?') ? '&' : '?');
	struct outbox_relay *r = outbox_relay_start(conninfo, p, 50, err, sizeof(err));
	ck_assert_msg(r != NULL, "%s", err);
	/* broker down: deliveries fail, rows stay unsent with attempts counted */
	ck_assert_int_gt(wait_count("SELECT count(*) FROM outbox WHERE attempts > 0 AND sent_at IS "
				    "NULL",
				    20, 20),
			 0);
	ck_assert_int_eq(count("SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL"), 0);
	rd_kafka_mock_broker_set_up(mc, 1);
	ck_assert_int_eq(wait_count("SELECT count(*) FROM outbox WHERE sent_at IS NULL", 0, 30), 0);
	outbox_relay_stop(r);
	int seq[64];
	int n = read_back(mc, "unit.relay", seq, 64);
	ck_assert_int_ge(n, 20);
	kafka_producer_destroy(p, 2000);
}
END_TEST

/* ---- pipelines (pg_pipe_*) ---- */

static int hook_committed, hook_rolled_back;

static void count_tx_end(bool committed)
{
	if (committed)
		hook_committed++;
	else
		hook_rolled_back++;
}

/* Round trips, counted in libpq's protocol trace: each flight ends with one ReadyForQuery. */
static FILE *trace;
static char *trace_buf;
static size_t trace_len;

static void trace_start(void)
{
	trace = open_memstream(&trace_buf, &trace_len);
	ck_assert_ptr_nonnull(trace);
	PQtrace(db, trace);
	PQsetTraceFlags(db, PQTRACE_SUPPRESS_TIMESTAMPS);
}

static int trace_flights(void)
{
	PQuntrace(db);
	fclose(trace);
	int n = 0;
	for (const char *at = trace_buf; (at = strstr(at, "\tReadyForQuery")) != NULL; at++)
		n++;
	free(trace_buf);
	return n;
}

START_TEST(pipeline_returns_results_in_order)
{
	struct pg_pipe p;
	const char *one[] = {"1"}, *two[] = {"2"}, *bin[] = {"\x01\x00\x02"};
	const int len[] = {3}, fmt[] = {1};
	ck_assert_int_eq(pg_exec(db, "CREATE TABLE pipe_t (k int PRIMARY KEY, v text)", 0, NULL),
			 0);
	ck_assert_int_eq(pg_add_tx_end_hook(count_tx_end), 0);
	hook_committed = hook_rolled_back = 0;
	pg_pipe_init(&p);
	ck_assert_int_eq(pg_pipe_begin(&p), 0);
	ck_assert_int_eq(pg_pipe_add(&p, "INSERT INTO pipe_t VALUES ($1::int, 'a')", 1, one), 1);
	ck_assert_int_eq(pg_pipe_add(&p, "INSERT INTO pipe_t VALUES ($1::int, 'b')", 1, two), 2);
	/* a later statement sees an earlier one's effect: they run in order */
	ck_assert_int_eq(
	    pg_pipe_add(&p, "SELECT string_agg(v, ',' ORDER BY k) FROM pipe_t", 0, NULL), 3);
	ck_assert_int_eq(pg_pipe_add_bin(&p, "SELECT length($1::bytea)", 1, bin, len, fmt), 4);
	ck_assert_int_eq(pg_pipe_add_prepared(&p, "unit_pipe_named", "SELECT $1::int * 10", 1, two),
			 5);
	ck_assert_int_eq(pg_pipe_commit(&p), 6);
	trace_start();
	ck_assert_int_eq(pg_pipe_run(db, &p), 0);
	/* seven statements and a Parse, one round trip */
	ck_assert_int_eq(trace_flights(), 1);
	ck_assert_int_eq(pg_pipe_failed(&p), -1);
	ck_assert_str_eq(PQcmdStatus(pg_pipe_result(&p, 1)), "INSERT 0 1");
	ck_assert_str_eq(pg_value(pg_pipe_result(&p, 3), 0, 0, "?"), "a,b");
	ck_assert_str_eq(pg_value(pg_pipe_result(&p, 4), 0, 0, "?"), "3");
	ck_assert_str_eq(pg_value(pg_pipe_result(&p, 5), 0, 0, "?"), "20");
	ck_assert_str_eq(PQcmdStatus(pg_pipe_result(&p, 6)), "COMMIT");
	pg_pipe_clear(&p);
	/* the COMMIT in the pipe committed and ran the tx-end hooks, like pg_commit */
	ck_assert_int_eq(PQtransactionStatus(db), PQTRANS_IDLE);
	ck_assert_int_eq(hook_committed, 1);
	ck_assert_int_eq(hook_rolled_back, 0);
	ck_assert_int_eq(count("SELECT count(*) FROM pipe_t"), 2);
	/* an empty pipe runs as nothing */
	ck_assert_int_eq(pg_pipe_run(db, &p), 0);
}
END_TEST

START_TEST(pipeline_error_aborts_the_rest_and_leaves_the_connection_usable)
{
	struct pg_pipe p;
	const char *one[] = {"1"}, *two[] = {"2"};
	ck_assert_int_eq(pg_exec(db, "CREATE TABLE pipe_t (k int PRIMARY KEY)", 0, NULL), 0);
	ck_assert_int_eq(pg_add_tx_end_hook(count_tx_end), 0);
	hook_committed = hook_rolled_back = 0;
	pg_pipe_init(&p);
	ck_assert_int_eq(pg_pipe_begin(&p), 0);
	ck_assert_int_eq(pg_pipe_add(&p, "INSERT INTO pipe_t VALUES ($1::int)", 1, one), 1);
	ck_assert_int_eq(pg_pipe_add(&p, "INSERT INTO pipe_t VALUES ($1::int)", 1, one), 2);
	ck_assert_int_eq(pg_pipe_add(&p, "INSERT INTO pipe_t VALUES ($1::int)", 1, two), 3);
	ck_assert_int_eq(pg_pipe_commit(&p), 4);
	ck_assert_int_eq(pg_pipe_run(db, &p), -1);
	/* the first error is reported with its SQLSTATE, the statements after it did not run */
	ck_assert_int_eq(pg_pipe_failed(&p), 2);
	ck_assert_str_eq(pg_last_sqlstate(), "23505");
	ck_assert_ptr_nonnull(strstr(pg_last_error(), "pipe_t_pkey"));
	ck_assert_ptr_nonnull(pg_pipe_result(&p, 1));
	ck_assert_ptr_null(pg_pipe_result(&p, 2));
	ck_assert_ptr_null(pg_pipe_result(&p, 3));
	ck_assert_ptr_null(pg_pipe_result(&p, 4));
	pg_pipe_clear(&p);
	/* the pipe held COMMIT: the aborted transaction was rolled back, the hooks told so */
	ck_assert_int_eq(PQtransactionStatus(db), PQTRANS_IDLE);
	ck_assert_int_eq(hook_committed, 0);
	ck_assert_int_eq(hook_rolled_back, 1);
	ck_assert_int_eq(count("SELECT count(*) FROM pipe_t"), 0);
	/* without COMMIT the caller's transaction stays aborted for its pg_rollback */
	ck_assert_int_eq(pg_begin(db), 0);
	ck_assert_int_eq(pg_pipe_add(&p, "INSERT INTO pipe_t VALUES ($1::int)", 1, two), 0);
	ck_assert_int_eq(pg_pipe_add(&p, "SELECT 1 / ($1::int - 1)", 1, one), 1);
	ck_assert_int_eq(pg_pipe_run(db, &p), -1);
	ck_assert_str_eq(pg_last_sqlstate(), "22012");
	ck_assert_int_eq(PQtransactionStatus(db), PQTRANS_INERROR);
	pg_pipe_clear(&p);
	pg_rollback(db);
	/* without BEGIN the pipe is one implicit transaction: the insert before the error is gone
	 */
	ck_assert_int_eq(pg_pipe_add(&p, "INSERT INTO pipe_t VALUES ($1::int)", 1, two), 0);
	ck_assert_int_eq(pg_pipe_add(&p, "SELECT 1 / ($1::int - 1)", 1, one), 1);
	ck_assert_int_eq(pg_pipe_run(db, &p), -1);
	pg_pipe_clear(&p);
	ck_assert_int_eq(count("SELECT count(*) FROM pipe_t"), 0);
	/* and the connection runs statements again, in and out of pipelines */
	ck_assert_int_eq(pg_pipe_add(&p, "INSERT INTO pipe_t VALUES ($1::int)", 1, two), 0);
	ck_assert_int_eq(pg_pipe_run(db, &p), 0);
	pg_pipe_clear(&p);
	ck_assert_int_eq(count("SELECT count(*) FROM pipe_t"), 1);
	/* a pipe that could not be queued sends nothing and fails */
	for (int i = 0; i <= PG_PIPE_MAX; i++)
		pg_pipe_add(&p, "INSERT INTO pipe_t VALUES ($1::int)", 1, one);
	ck_assert_int_eq(pg_pipe_run(db, &p), -1);
	pg_pipe_clear(&p);
	ck_assert_int_eq(count("SELECT count(*) FROM pipe_t"), 1);
}
END_TEST

static long long prepared_count(const char *statement)
{
	const char *p[] = {statement};
	PGresult *r =
	    pg_query(db, "SELECT count(*) FROM pg_prepared_statements WHERE statement = $1", 1, p);
	ck_assert_ptr_nonnull(r);
	long long n = atoll(PQgetvalue(r, 0, 0));
	PQclear(r);
	return n;
}

/* When the statement was prepared, as sortable text (static). */
static const char *prepared_at(const char *statement)
{
	static char at[64];
	const char *p[] = {statement};
	PGresult *r = pg_query(db,
			       "SELECT to_char(prepare_time, 'YYYYMMDDHH24MISSUS') FROM "
			       "pg_prepared_statements WHERE statement = $1",
			       1, p);
	ck_assert_ptr_nonnull(r);
	snprintf(at, sizeof(at), "%s", pg_value(r, 0, 0, ""));
	PQclear(r);
	return at;
}

/* Runs sql (one int parameter) twice in one pipe and checks both answers. */
static int run_twice(const char *sql, const char *arg, const char *want)
{
	struct pg_pipe p;
	const char *a[] = {arg};
	pg_pipe_init(&p);
	pg_pipe_add(&p, sql, 1, a);
	pg_pipe_add(&p, sql, 1, a);
	int rc = pg_pipe_run(db, &p);
	if (rc == 0) {
		ck_assert_str_eq(pg_value(pg_pipe_result(&p, 0), 0, 0, "?"), want);
		ck_assert_str_eq(pg_value(pg_pipe_result(&p, 1), 0, 0, "?"), want);
	}
	pg_pipe_clear(&p);
	return rc;
}

START_TEST(pipeline_prepares_each_statement_once_per_connection)
{
	static const char sql[] = "SELECT $1::int * 3 AS unit_pipe";
	const char *seven[] = {"7"};
	/* prepared in the first flight (twice in the pipe, one Parse), executed after */
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(run_twice(sql, "7", "21"), 0);
	ck_assert_int_eq(prepared_count(sql), 1);
	/* pg_query finds it prepared (no 42P05 "already exists") */
	PGresult *r = pg_query(db, sql, 1, seven);
	ck_assert_msg(r != NULL, "%s", pg_last_error());
	PQclear(r);
	/* prepared again when its time is up (0: every run), once per pipe */
	char before[64];
	snprintf(before, sizeof(before), "%s", prepared_at(sql));
	pg_set_replan_seconds(0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(run_twice(sql, "7", "21"), 0);
	pg_set_replan_seconds(60);
	ck_assert_int_eq(prepared_count(sql), 1);
	ck_assert_str_gt(prepared_at(sql), before);
	/* a Parse that failed (no such table yet) is sent again next time */
	static const char later[] = "SELECT count(*) + $1::int FROM pipe_later";
	ck_assert_int_eq(run_twice(later, "1", "1"), -1);
	ck_assert_str_eq(pg_last_sqlstate(), "42P01");
	ck_assert_int_eq(pg_exec(db, "CREATE TABLE pipe_later (k int)", 0, NULL), 0);
	ck_assert_int_eq(run_twice(later, "1", "1"), 0);
	/* so is one an earlier error kept from running */
	static const char skipped[] = "SELECT $1::int + 100 AS unit_pipe_skipped";
	struct pg_pipe p;
	const char *zero[] = {"0"};
	pg_pipe_init(&p);
	pg_pipe_add(&p, "SELECT 1 / $1::int", 1, zero);
	pg_pipe_add(&p, skipped, 1, zero);
	ck_assert_int_eq(pg_pipe_run(db, &p), -1);
	ck_assert_int_eq(pg_pipe_failed(&p), 0);
	pg_pipe_clear(&p);
	ck_assert_int_eq(prepared_count(skipped), 0);
	ck_assert_int_eq(run_twice(skipped, "1", "101"), 0);
	ck_assert_int_eq(prepared_count(skipped), 1);
}
END_TEST

START_TEST(pipeline_on_a_broken_connection_fails_and_the_next_connection_works)
{
	struct pg_conn pc;
	struct pg_pipe p;
	const char *two[] = {"2"};
	static const char sql[] = "SELECT $1::int + 40 AS unit_pipe_broken";
	ck_assert_int_eq(pg_conn_init(&pc, getenv("CP_TEST_DATABASE_URL"), "unit"), 0);
	PGconn *c = pg_conn_get(&pc);
	ck_assert_ptr_nonnull(c);
	pg_pipe_init(&p);
	pg_pipe_add(&p, sql, 1, two);
	ck_assert_int_eq(pg_pipe_run(c, &p), 0);
	pg_pipe_clear(&p);
	/* the server ends the session (waits until it is gone) */
	char pid[16];
	snprintf(pid, sizeof(pid), "%d", PQbackendPID(c));
	const char *pp[] = {pid};
	PGresult *r = pg_query(db, "SELECT pg_terminate_backend($1::int, 60000)", 1, pp);
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(PQgetvalue(r, 0, 0), "t");
	PQclear(r);
	pg_pipe_add(&p, "BEGIN", 0, NULL);
	pg_pipe_add(&p, sql, 1, two);
	ck_assert_int_eq(pg_pipe_run(c, &p), -1);
	ck_assert_ptr_null(pg_pipe_result(&p, 1));
	pg_pipe_clear(&p);
	ck_assert_int_eq(PQstatus(c), CONNECTION_BAD);
	/* pg_conn_get replaces it; the statement is prepared on the new backend */
	c = pg_conn_get(&pc);
	ck_assert_ptr_nonnull(c);
	pg_pipe_add(&p, sql, 1, two);
	ck_assert_int_eq(pg_pipe_run(c, &p), 0);
	ck_assert_str_eq(pg_value(pg_pipe_result(&p, 0), 0, 0, "?"), "42");
	pg_pipe_clear(&p);
	pg_conn_release(&pc);
}
END_TEST

/* A connection left in pipeline mode with results nobody read is not handed out again:
 * pg_conn_get replaces it. The chaos battery's database restart once left one so (the
 * server gone mid-pipeline, libpq still saying CONNECTION_OK), and intake's consumer retried
 * its batch on it for good, every statement failing with "cannot exit pipeline mode with
 * uncollected results". */
START_TEST(a_connection_left_in_pipeline_mode_is_replaced)
{
	struct pg_conn pc;
	ck_assert_int_eq(pg_conn_init(&pc, getenv("CP_TEST_DATABASE_URL"), "unit"), 0);
	PGconn *c = pg_conn_get(&pc);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(PQenterPipelineMode(c), 1);
	ck_assert_int_eq(PQsendQueryParams(c, "SELECT 1", 0, NULL, NULL, NULL, NULL, 0), 1);
	ck_assert_int_eq(PQexitPipelineMode(c), 0); /* uncollected results: it stays */
	ck_assert_int_eq(PQstatus(c), CONNECTION_OK);
	PGconn *next = pg_conn_get(&pc);
	ck_assert_ptr_nonnull(next);
	ck_assert_int_eq(PQpipelineStatus(next), PQ_PIPELINE_OFF);
	const char *two[] = {"2"};
	PGresult *r = pg_query(next, "SELECT $1::int + 40 AS unit_pipeline_left", 1, two);
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(PQgetvalue(r, 0, 0), "42");
	PQclear(r);
	pg_conn_release(&pc);
}
END_TEST

START_TEST(transaction_control_goes_with_the_next_statement)
{
	const char *one[] = {"1"}, *two[] = {"2"};
	static const char ins[] = "INSERT INTO pipe_t VALUES ($1::int)";
	ck_assert_int_eq(pg_exec(db, "CREATE TABLE pipe_t (k int PRIMARY KEY)", 0, NULL), 0);
	ck_assert_int_eq(pg_add_tx_end_hook(count_tx_end), 0);
	hook_committed = hook_rolled_back = 0;
	/* BEGIN, an insert, a savepoint around another, COMMIT: three flights, not six */
	trace_start();
	ck_assert_int_eq(pg_begin(db), 0);
	ck_assert_int_eq(PQtransactionStatus(db), PQTRANS_IDLE); /* nothing sent yet */
	ck_assert_int_eq(pg_exec(db, ins, 1, one), 0);
	ck_assert_int_eq(PQtransactionStatus(db), PQTRANS_INTRANS);
	ck_assert_int_eq(pg_exec(db, "SAVEPOINT unit_sp", 0, NULL), 0);
	ck_assert_int_eq(pg_exec(db, ins, 1, two), 0);
	ck_assert_int_eq(pg_exec(db, "RELEASE SAVEPOINT unit_sp", 0, NULL), 0);
	ck_assert_int_eq(pg_commit(db), 0);
	ck_assert_int_eq(trace_flights(), 3);
	ck_assert_int_eq(hook_committed, 1);
	ck_assert_int_eq(count("SELECT count(*) FROM pipe_t"), 2);
	/* a transaction in which nothing ran costs no round trip, and its hooks still run */
	trace_start();
	ck_assert_int_eq(pg_begin(db), 0);
	ck_assert_int_eq(pg_commit(db), 0);
	ck_assert_int_eq(pg_begin(db), 0);
	pg_rollback(db);
	ck_assert_int_eq(trace_flights(), 0);
	ck_assert_int_eq(hook_committed, 2);
	ck_assert_int_eq(hook_rolled_back, 1);
	/* the rollback forgot the BEGIN: the next statement runs on its own */
	ck_assert_int_eq(count("SELECT count(*) FROM pipe_t"), 2);
	ck_assert_int_eq(PQtransactionStatus(db), PQTRANS_IDLE);
	/* a savepoint rolled back to undoes only its part (the failed insert) */
	ck_assert_int_eq(pg_exec(db, "DELETE FROM pipe_t", 0, NULL), 0);
	ck_assert_int_eq(pg_begin(db), 0);
	ck_assert_int_eq(pg_exec(db, ins, 1, one), 0);
	ck_assert_int_eq(pg_exec(db, "SAVEPOINT unit_sp", 0, NULL), 0);
	ck_assert_int_ne(pg_exec(db, ins, 1, one), 0);
	ck_assert_str_eq(pg_last_sqlstate(), "23505");
	ck_assert_int_eq(pg_exec(db, "ROLLBACK TO SAVEPOINT unit_sp", 0, NULL), 0);
	ck_assert_int_eq(pg_exec(db, ins, 1, two), 0);
	ck_assert_int_eq(pg_commit(db), 0);
	ck_assert_int_eq(count("SELECT count(*) FROM pipe_t"), 2);
	/* a kept statement that fails fails the statement it went with */
	ck_assert_int_eq(pg_begin(db), 0);
	ck_assert_int_eq(pg_exec(db, "SELECT 1", 0, NULL), 0);
	ck_assert_int_eq(pg_exec(db, "RELEASE SAVEPOINT unit_nosuch", 0, NULL), 0);
	ck_assert_ptr_null(pg_query(db, "SELECT $1::int", 1, one));
	ck_assert_str_eq(pg_last_sqlstate(), "3B001");
	pg_rollback(db);
	ck_assert_int_eq(PQtransactionStatus(db), PQTRANS_IDLE);
	/* outside a transaction SAVEPOINT is not kept: its error comes at once */
	ck_assert_int_ne(pg_exec(db, "SAVEPOINT unit_sp", 0, NULL), 0);
	ck_assert_str_eq(pg_last_sqlstate(), "25P01");
}
END_TEST

START_TEST(a_kept_begin_does_not_outlive_its_connection)
{
	struct pg_conn pc;
	ck_assert_int_eq(pg_conn_init(&pc, getenv("CP_TEST_DATABASE_URL"), "unit"), 0);
	PGconn *c = pg_conn_get(&pc);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(pg_begin(c), 0);
	pg_conn_reset(&pc);
	c = pg_conn_get(&pc);
	ck_assert_ptr_nonnull(c);
	/* the new connection's statement is not sent with the old BEGIN */
	ck_assert_int_eq(pg_exec(c, "SELECT 1", 0, NULL), 0);
	ck_assert_int_eq(PQtransactionStatus(c), PQTRANS_IDLE);
	pg_conn_release(&pc);
}
END_TEST

START_TEST(outbox_rows_queued_on_a_pipeline_commit_with_it)
{
	Cp__SlaEvent ev;
	struct pg_pipe p;
	char id[IDS_UUID_LEN];
	const char *zero[] = {"0"};
	sample_event(&ev);
	unsigned long before = outbox_wake_count();
	pg_pipe_init(&p);
	ck_assert_int_eq(pg_pipe_begin(&p), 0);
	ck_assert_int_eq(outbox_pipe_add(&p, "unit.topic", "k1", "cp.unit.piped", &ev.base, id), 0);
	ck_assert_int_eq(pg_pipe_commit(&p), 2);
	ck_assert_int_eq(pg_pipe_run(db, &p), 0);
	pg_pipe_clear(&p);
	ck_assert_uint_eq(outbox_wake_count(), before + 1);
	const char *pid[] = {id};
	PGresult *r = pg_query(
	    db, "SELECT ce_type, topic, length(payload) > 0 FROM outbox WHERE ce_id = $1", 1, pid);
	ck_assert_int_eq(PQntuples(r), 1);
	ck_assert_str_eq(PQgetvalue(r, 0, 0), "cp.unit.piped");
	ck_assert_str_eq(PQgetvalue(r, 0, 2), "t");
	PQclear(r);
	/* a pipe that fails after its row writes nothing and wakes nobody */
	ck_assert_int_eq(pg_pipe_begin(&p), 0);
	ck_assert_int_eq(outbox_pipe_add(&p, "unit.topic", "k1", "cp.unit.lost", &ev.base, NULL),
			 0);
	pg_pipe_add(&p, "SELECT 1 / $1::int", 1, zero);
	ck_assert_int_eq(pg_pipe_commit(&p), 3);
	ck_assert_int_eq(pg_pipe_run(db, &p), -1);
	pg_pipe_clear(&p);
	ck_assert_int_eq(count("SELECT count(*) FROM outbox WHERE ce_type = 'cp.unit.lost'"), 0);
	ck_assert_uint_eq(outbox_wake_count(), before + 1);
	/* the next transaction without outbox rows does not wake it either */
	ck_assert_int_eq(pg_begin(db), 0);
	ck_assert_int_eq(pg_commit(db), 0);
	ck_assert_uint_eq(outbox_wake_count(), before + 1);
}
END_TEST

/* A writer's own statement carries the event row (intake's POST: the case and its event in
 * one statement); the commit wakes the relay, and under outbox_defer the row is held instead. */
START_TEST(an_outbox_row_goes_in_the_writers_own_statement)
{
	Cp__SlaEvent ev;
	struct outbox_row row;
	char id[IDS_UUID_LEN], held[IDS_UUID_LEN];
	sample_event(&ev);
	unsigned long before = outbox_wake_count();
	ck_assert_int_eq(pg_begin(db), 0);
	ck_assert_int_eq(outbox_row_init(&row, "unit.topic", "k1", "cp.unit.own", &ev.base, id), 0);
	PGresult *r =
	    pg_query_bin(db,
			 "WITH x AS (SELECT 1) INSERT INTO outbox (ce_id, ce_type, "
			 "ce_source, ce_time, topic, msg_key, payload) SELECT $1, $2, $3, "
			 "$4, $5, $6, $7 FROM x",
			 7, row.values, row.lengths, row.formats);
	ck_assert_ptr_nonnull(r);
	PQclear(r);
	outbox_row_clear(&row);
	ck_assert_int_eq(pg_commit(db), 0);
	ck_assert_uint_eq(outbox_wake_count(), before + 1);
	const char *pid[] = {id};
	r = pg_query(db,
		     "SELECT ce_type, topic, msg_key, ce_source, length(payload) FROM outbox WHERE "
		     "ce_id = $1",
		     1, pid);
	ck_assert_int_eq(PQntuples(r), 1);
	ck_assert_str_eq(PQgetvalue(r, 0, 0), "cp.unit.own");
	ck_assert_str_eq(PQgetvalue(r, 0, 2), "k1");
	ck_assert_str_eq(PQgetvalue(r, 0, 3), outbox_source());
	ck_assert_int_eq(atoi(PQgetvalue(r, 0, 4)),
			 (int)protobuf_c_message_get_packed_size(&ev.base));
	PQclear(r);
	/* deferred: held for the batch's one insert, nothing for the caller to write */
	ck_assert_int_eq(pg_begin(db), 0);
	outbox_defer(true);
	ck_assert_int_eq(outbox_row_init(&row, "unit.topic", "k2", "cp.unit.held", &ev.base, held),
			 1);
	ck_assert_ptr_null(row.payload);
	outbox_row_clear(&row);
	ck_assert_int_eq(outbox_defer_flush(db), 0);
	outbox_defer(false);
	ck_assert_int_eq(pg_commit(db), 0);
	const char *hid[] = {held};
	ck_assert_int_eq(count("SELECT count(*) FROM outbox WHERE ce_type = 'cp.unit.held'"), 1);
	r = pg_query(db, "SELECT msg_key FROM outbox WHERE ce_id = $1", 1, hid);
	ck_assert_int_eq(PQntuples(r), 1);
	PQclear(r);
}
END_TEST

/* ---- httpd on worker threads (needs PostgreSQL for the workers' connections) ---- */

static void route_get(struct http_req *r, void *arg)
{
	http_reply_text(r, 200, "text/plain", "get");
}

static void route_post(struct http_req *r, void *arg)
{
	http_reply_text(r, 201, "text/plain", "post");
}

static void *loop_main(void *arg)
{
	event_base_dispatch(arg);
	return NULL;
}

static void stop_loop(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(arg);
}

/* One HTTP/1.0 exchange; returns the response text (static). */
static const char *http_exchange(int port, const char *method)
{
	static char buf[2048];
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	int n = snprintf(buf, sizeof(buf), "%s /v1/things HTTP/1.0\r\nContent-Length: 0\r\n\r\n",
			 method);
	ck_assert_int_eq(write(fd, buf, (size_t)n), n);
	size_t len = 0;
	ssize_t got;
	while ((got = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)got;
	buf[len] = '\0';
	close(fd);
	return buf;
}

/* Regression: workers looked a route up by its pattern alone, so POST on a pattern that also
 * had a GET route ran the GET handler. */
/* A port nobody listens on now: the kernel's choice for port 0. A port derived from the pid
 * collided with other programs' ephemeral ports on a busy machine (the test then failed with
 * "cannot listen"); the short window between closing this socket and httpd_new binding it is
 * far narrower. */
static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	ck_assert(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
		  getsockname(fd, (struct sockaddr *)&a, &len) == 0);
	close(fd);
	return ntohs(a.sin_port);
}

START_TEST(worker_routes_keep_their_method)
{
	static const struct http_route routes[] = {
	    {"GET", "/v1/things", route_get, true, AUTH_PUBLIC},
	    {"POST", "/v1/things", route_post, true, AUTH_PUBLIC},
	};
	char err[256];
	evthread_use_pthreads();
	struct event_base *base = event_base_new();
	int port = free_port();
	struct httpd_opts o = {.addr = "127.0.0.1",
			       .port = port,
			       .workers = 2,
			       .max_body = 4096,
			       .conninfo = getenv("CP_TEST_DATABASE_URL")};
	struct httpd *h = httpd_new(base, &o, routes, 2, err, sizeof(err));
	ck_assert_msg(h != NULL, "%s", err);
	pthread_t t;
	pthread_create(&t, NULL, loop_main, base);
	const char *get = http_exchange(port, "GET");
	ck_assert_msg(strstr(get, "200") && strstr(get, "\r\n\r\nget"), "%s", get);
	const char *post = http_exchange(port, "POST");
	ck_assert_msg(strstr(post, "201") && strstr(post, "\r\n\r\npost"), "%s", post);
	event_base_once(base, -1, EV_TIMEOUT, stop_loop, base, NULL);
	pthread_join(t, NULL);
	httpd_free(h);
	event_base_free(base);
}
END_TEST

static int refused_calls;

static int refuse_all(struct http_req *r, unsigned roles)
{
	refused_calls++;
	http_reply_error(r, 401, "unauthorized", "no");
	return -1;
}

/* Loop-thread routes (no database): HEAD answers as GET without a body; a method the path does
 * not have (OPTIONS, TRACE, PUT) is the JSON 405 naming the ones it has, never libevent's
 * HTML 501 (schemathesis found it); the route check runs before a matched handler only. */
START_TEST(unlisted_methods_get_a_json_405_with_allow)
{
	static const struct http_route routes[] = {
	    {"GET", "/v1/things", route_get, false, AUTH_PUBLIC},
	    {"POST", "/v1/things", route_post, false, AUTH_PUBLIC},
	    {"GET", "/v1/guarded", route_get, false, AUTH_STAFF},
	};
	char err[256];
	evthread_use_pthreads();
	struct event_base *base = event_base_new();
	int port = free_port();
	struct httpd_opts o = {.addr = "127.0.0.1", .port = port, .max_body = 4096};
	struct httpd *h = httpd_new(base, &o, routes, 2, err, sizeof(err));
	ck_assert_msg(h != NULL, "%s", err);
	pthread_t t;
	pthread_create(&t, NULL, loop_main, base);
	const char *head = http_exchange(port, "HEAD");
	ck_assert_msg(strstr(head, " 200 ") && !strstr(head, "\r\n\r\nget"), "%s", head);
	const char *methods[] = {"OPTIONS", "TRACE", "PUT"};
	for (int i = 0; i < 3; i++) {
		const char *got = http_exchange(port, methods[i]);
		ck_assert_msg(strstr(got, " 405 ") && strstr(got, "Allow: GET, HEAD, POST\r\n") &&
				  strstr(got, "\"error\":\"method_not_allowed\""),
			      "%s: %s", methods[i], got);
	}
	event_base_once(base, -1, EV_TIMEOUT, stop_loop, base, NULL);
	pthread_join(t, NULL);
	httpd_free(h);
	/* the route check: a public route passes through it too, a 405 never reaches it */
	int port2 = free_port(); /* not port + 1: the client sockets above took ephemeral ports */
	o.port = port2;
	o.authorize = refuse_all;
	h = httpd_new(base, &o, routes, 3, err, sizeof(err));
	ck_assert_msg(h != NULL, "%s", err);
	pthread_create(&t, NULL, loop_main, base);
	refused_calls = 0;
	const char *got = http_exchange(port2, "DELETE");
	ck_assert_msg(strstr(got, " 405 ") && refused_calls == 0, "%s", got);
	got = http_exchange(port2, "GET");
	ck_assert_msg(strstr(got, " 401 ") && refused_calls == 1, "%s", got);
	event_base_once(base, -1, EV_TIMEOUT, stop_loop, base, NULL);
	pthread_join(t, NULL);
	httpd_free(h);
	event_base_free(base);
}
END_TEST

/* A method libevent does not know (QUERY, a made-up one) or CONNECT answered libevent's HTML
 * 501 from every service, before any callback: it is the JSON 501 on any path, and the
 * connection closes (libevent reads no body after such a method). */
START_TEST(unknown_methods_get_a_json_501)
{
	static const struct http_route routes[] = {
	    {"GET", "/v1/things", route_get, false, AUTH_PUBLIC},
	};
	char err[256];
	evthread_use_pthreads();
	struct event_base *base = event_base_new();
	int port = free_port();
	struct httpd_opts o = {.addr = "127.0.0.1", .port = port, .max_body = 4096};
	struct httpd *h = httpd_new(base, &o, routes, 1, err, sizeof(err));
	ck_assert_msg(h != NULL, "%s", err);
	pthread_t t;
	pthread_create(&t, NULL, loop_main, base);
	const char *methods[] = {"QUERY", "BREW", "CONNECT"};
	for (int i = 0; i < 3; i++) {
		const char *got = http_exchange(port, methods[i]);
		ck_assert_msg(strstr(got, " 501 ") &&
				  strstr(got, "Content-Type: application/json\r\n") &&
				  strstr(got, "\"error\":\"not_implemented\"") &&
				  strstr(got, "Connection: close\r\n"),
			      "%s: %s", methods[i], got);
	}
	/* the known methods still reach the routes */
	const char *get = http_exchange(port, "GET");
	ck_assert_msg(strstr(get, " 200 ") && strstr(get, "\r\n\r\nget"), "%s", get);
	event_base_once(base, -1, EV_TIMEOUT, stop_loop, base, NULL);
	pthread_join(t, NULL);
	httpd_free(h);
	event_base_free(base);
}
END_TEST

int main(void)
{
	log_init("unit", LOG_ERROR);
	Suite *s = suite_create("common_messaging");
	TCase *k = tcase_create("kafka_mock");
	tcase_set_timeout(k, 60);
	tcase_add_test(k, idempotent_producer_survives_leader_errors_in_order);
	tcase_add_test(k, dead_broker_yields_failed_reports_not_silence);
	suite_add_tcase(s, k);
	TCase *hk = tcase_create("httpd");
	tcase_set_timeout(hk, 30);
	tcase_add_test(hk, unlisted_methods_get_a_json_405_with_allow);
	tcase_add_test(hk, unknown_methods_get_a_json_501);
	suite_add_tcase(s, hk);
	if (getenv("CP_TEST_DATABASE_URL")) {
		TCase *d = tcase_create("postgres");
		tcase_set_timeout(d, 90);
		tcase_add_checked_fixture(d, db_setup, db_teardown);
		tcase_add_test(d, outbox_row_commits_or_rolls_back_with_the_change);
		tcase_add_test(d, inbox_claims_an_event_once);
		tcase_add_test(d, relay_marks_rows_sent_only_after_delivery);
		tcase_add_test(d, worker_routes_keep_their_method);
		tcase_add_test(d, prepared_statements_are_prepared_once_per_connection);
		tcase_add_test(d, plannable_statements_are_prepared_by_pg_query);
		tcase_add_test(d, a_commit_with_outbox_rows_wakes_the_relay);
		tcase_add_test(d, deferred_outbox_rows_are_written_together_in_order);
		tcase_add_test(d, pipeline_returns_results_in_order);
		tcase_add_test(d, pipeline_error_aborts_the_rest_and_leaves_the_connection_usable);
		tcase_add_test(d, pipeline_prepares_each_statement_once_per_connection);
		tcase_add_test(d,
			       pipeline_on_a_broken_connection_fails_and_the_next_connection_works);
		tcase_add_test(d, a_connection_left_in_pipeline_mode_is_replaced);
		tcase_add_test(d, outbox_rows_queued_on_a_pipeline_commit_with_it);
		tcase_add_test(d, an_outbox_row_goes_in_the_writers_own_statement);
		tcase_add_test(d, transaction_control_goes_with_the_next_statement);
		tcase_add_test(d, a_kept_begin_does_not_outlive_its_connection);
		suite_add_tcase(s, d);
	}
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
