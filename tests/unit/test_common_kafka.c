/* Unit tests: the recovery properties every Kafka client of common/kafka.c gets (the bounded
 * reconnect back-off and connection set-up time that bring the services back soon after a
 * broker restart; the chaos battery in tests/chaos prints the recovery they give), and that
 * the environment still overrides them. On librdkafka's in-process mock cluster, no broker. */
#include <check.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kafka.h"
#include "metrics.h"

/* The value of a property as the client runs with it (its configuration after rd_kafka_new). */
static const char *kafka_test_prop(rd_kafka_t *rk, const char *name)
{
	static char value[64];
	size_t size = sizeof(value);
	ck_assert_int_eq(rd_kafka_conf_get(rd_kafka_conf(rk), name, value, &size),
			 RD_KAFKA_CONF_OK);
	return value;
}

static struct kafka_producer *kafka_test_producer(void)
{
	char err[256];
	setenv("KAFKA_PRODUCER_TEST_MOCK_NUM_BROKERS", "1", 1);
	struct kafka_producer *p = kafka_producer_new("unused:9092", "unit", err, sizeof(err));
	unsetenv("KAFKA_PRODUCER_TEST_MOCK_NUM_BROKERS");
	ck_assert_msg(p != NULL, "%s", err);
	return p;
}

START_TEST(every_client_gets_the_recovery_defaults)
{
	struct kafka_producer *p = kafka_test_producer();
	ck_assert_str_eq(kafka_test_prop(kafka_producer_handle(p), "reconnect.backoff.max.ms"),
			 "1000");
	ck_assert_str_eq(
	    kafka_test_prop(kafka_producer_handle(p), "socket.connection.setup.timeout.ms"),
	    "5000");
	ck_assert_str_eq(kafka_test_prop(kafka_producer_handle(p), "socket.nagle.disable"), "true");
	kafka_producer_destroy(p, 0);

	char err[256];
	static const char *const topics[] = {"unit.recovery"};
	setenv("KAFKA_CONSUMER_TEST_MOCK_NUM_BROKERS", "1", 1);
	struct kafka_consumer *c =
	    kafka_consumer_new("unused:9092", "cp-unit", topics, 1, err, sizeof(err));
	unsetenv("KAFKA_CONSUMER_TEST_MOCK_NUM_BROKERS");
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_str_eq(kafka_test_prop(kafka_consumer_handle(c), "reconnect.backoff.max.ms"),
			 "1000");
	ck_assert_str_eq(
	    kafka_test_prop(kafka_consumer_handle(c), "socket.connection.setup.timeout.ms"),
	    "5000");
	ck_assert_str_eq(kafka_test_prop(kafka_consumer_handle(c), "socket.nagle.disable"), "true");
	kafka_consumer_destroy(c);
}
END_TEST

START_TEST(the_environment_overrides_them)
{
	setenv("KAFKA_RECONNECT_BACKOFF_MAX_MS", "4000", 1);
	setenv("KAFKA_PRODUCER_SOCKET_CONNECTION_SETUP_TIMEOUT_MS", "12000", 1);
	struct kafka_producer *p = kafka_test_producer();
	unsetenv("KAFKA_RECONNECT_BACKOFF_MAX_MS");
	unsetenv("KAFKA_PRODUCER_SOCKET_CONNECTION_SETUP_TIMEOUT_MS");
	ck_assert_str_eq(kafka_test_prop(kafka_producer_handle(p), "reconnect.backoff.max.ms"),
			 "4000");
	ck_assert_str_eq(
	    kafka_test_prop(kafka_producer_handle(p), "socket.connection.setup.timeout.ms"),
	    "12000");
	kafka_producer_destroy(p, 0);
}
END_TEST

/* A batch that is complete goes out at once: with linger.ms at 20 s the reports still come
 * within the wait (plain waiting leaves the messages in the queue for those 20 s). */
START_TEST(a_complete_batch_is_sent_without_waiting_out_linger)
{
	setenv("KAFKA_PRODUCER_LINGER_MS", "20000", 1);
	struct kafka_producer *p = kafka_test_producer();
	unsetenv("KAFKA_PRODUCER_LINGER_MS");
	ck_assert_str_eq(kafka_test_prop(kafka_producer_handle(p), "linger.ms"), "20000");
	struct kafka_dr dr;
	struct kafka_dr_slot slots[3] = {0};
	char err[256];
	kafka_dr_init(&dr);
	for (int i = 0; i < 3; i++) {
		slots[i].group = &dr;
		ck_assert_msg(kafka_produce(p, "unit.linger", "k", "v", 1, NULL, &slots[i], err,
					    sizeof(err)) == 0,
			      "%s", err);
	}
	/* waiting alone leaves them queued for linger.ms */
	ck_assert_uint_eq(kafka_dr_wait(&dr, 300), 3);
	ck_assert_uint_eq(kafka_dr_send_wait(p, &dr, 15000), 0);
	for (int i = 0; i < 3; i++)
		ck_assert(slots[i].done && slots[i].err == RD_KAFKA_RESP_ERR_NO_ERROR);
	kafka_dr_destroy(&dr);
	kafka_producer_destroy(p, 0);
}
END_TEST

struct trickle {
	struct kafka_producer *p;
	int n;
};

static void *trickle_main(void *arg)
{
	struct trickle *t = arg;
	char err[256];
	for (int i = 0; i < t->n; i++) {
		ck_assert(kafka_produce(t->p, "unit.trickle", "k", "v", 1, NULL, NULL, err,
					sizeof(err)) == 0);
		usleep(5000);
	}
	return NULL;
}

/* A consumer batch waits wait_ms from its first message, not from its latest: a steady trickle
 * (one message every 5 ms for 2 s, a wait of 200 ms) no longer keeps the first message waiting
 * until the trickle pauses. */
START_TEST(a_batch_waits_from_its_first_message)
{
	rd_kafka_mock_cluster_t *mc;
	char err[256];
	struct kafka_producer *p = kafka_test_producer();
	mc = rd_kafka_handle_mock_cluster(kafka_producer_handle(p));
	rd_kafka_mock_topic_create(mc, "unit.trickle", 1, 1);
	static const char *const topics[] = {"unit.trickle"};
	struct kafka_consumer *c = kafka_consumer_new(
	    rd_kafka_mock_cluster_bootstraps(mc), "cp-unit-trickle", topics, 1, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	/* the consumer is assigned and reading once a first message came through */
	ck_assert(kafka_produce(p, "unit.trickle", "k", "v", 1, NULL, NULL, err, sizeof(err)) == 0);
	rd_kafka_message_t *msgs[1000];
	size_t n = 0;
	for (int i = 0; i < 60 && n == 0; i++)
		n = kafka_consumer_poll_batch(c, msgs, 1, 500, 0);
	ck_assert_uint_eq(n, 1);
	rd_kafka_message_destroy(msgs[0]);
	struct trickle t = {p, 400};
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, trickle_main, &t), 0);
	n = kafka_consumer_poll_batch(c, msgs, 1000, 10000, 200);
	ck_assert_uint_ge(n, 1);
	ck_assert_uint_lt(n, 400);
	for (size_t i = 0; i < n; i++)
		rd_kafka_message_destroy(msgs[i]);
	pthread_join(th, NULL);
	kafka_consumer_destroy(c);
	kafka_producer_destroy(p, 1000);
}
END_TEST

/* The latency gauges from librdkafka's statistics: the worst real broker's window, in seconds;
 * the bootstrap entry (nodeid -1) is left out. */
START_TEST(the_statistics_give_the_worst_brokers_latency)
{
	static const char json[] =
	    "{\"name\": \"cp-unit#producer-9\", \"type\": \"producer\", \"brokers\": {"
	    "\"boot:9092/bootstrap\": {\"nodeid\": -1, \"rtt\": {\"avg\": 9000000, \"p99\": "
	    "9000000, \"max\": 9000000}},"
	    "\"a:9092/1\": {\"nodeid\": 1, \"rtt\": {\"avg\": 2000, \"p99\": 30000, \"max\": "
	    "40000}, \"int_latency\": {\"avg\": 1200, \"p99\": 5000, \"max\": 6000}},"
	    "\"b:9092/2\": {\"nodeid\": 2, \"rtt\": {\"avg\": 1000, \"p99\": 50000, \"max\": "
	    "60000}, \"outbuf_latency\": {\"avg\": 10, \"p99\": 20, \"max\": 30}}}}";
	metrics_reset();
	ck_assert_int_eq(kafka_stats_apply(json, strlen(json)), 0);
	const char *who = "client=\"cp-unit#producer-9\",window=";
	char labels[128];
	snprintf(labels, sizeof(labels), "%s\"p99\"", who);
	ck_assert_double_eq_tol(
	    metrics_value(metrics_gauge("cp_kafka_broker_rtt_seconds", "", labels)), 0.05, 1e-9);
	snprintf(labels, sizeof(labels), "%s\"avg\"", who);
	ck_assert_double_eq_tol(
	    metrics_value(metrics_gauge("cp_kafka_broker_rtt_seconds", "", labels)), 0.002, 1e-9);
	ck_assert_double_eq_tol(
	    metrics_value(metrics_gauge("cp_kafka_queue_latency_seconds", "", labels)), 0.0012,
	    1e-9);
	snprintf(labels, sizeof(labels), "%s\"max\"", who);
	ck_assert_double_eq_tol(
	    metrics_value(metrics_gauge("cp_kafka_outbuf_latency_seconds", "", labels)), 3e-5,
	    1e-12);
	/* not a client's statistics: nothing set */
	ck_assert_int_eq(kafka_stats_apply("{\"x\": 1}", 8), -1);
	ck_assert_int_eq(kafka_stats_apply("not json", 8), -1);
}
END_TEST

/* Every client reports them: a producer on the mock cluster, statistics every 100 ms. */
START_TEST(a_client_reports_its_latency_gauges)
{
	metrics_reset();
	setenv("KAFKA_STATISTICS_INTERVAL_MS", "100", 1);
	struct kafka_producer *p = kafka_test_producer();
	unsetenv("KAFKA_STATISTICS_INTERVAL_MS");
	bool seen = false;
	for (int i = 0; i < 100 && !seen; i++) {
		usleep(50 * 1000);
		char *text = metrics_render();
		seen = text && strstr(text, "cp_kafka_broker_rtt_seconds{client=\"") != NULL;
		free(text);
	}
	kafka_producer_destroy(p, 0);
	ck_assert_msg(seen, "no cp_kafka_broker_rtt_seconds after 5 s of statistics every 100 ms");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("common_kafka");
	TCase *tc = tcase_create("recovery");
	tcase_add_test(tc, every_client_gets_the_recovery_defaults);
	tcase_add_test(tc, the_environment_overrides_them);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, a_complete_batch_is_sent_without_waiting_out_linger);
	tcase_add_test(tc, a_batch_waits_from_its_first_message);
	tcase_add_test(tc, the_statistics_give_the_worst_brokers_latency);
	tcase_add_test(tc, a_client_reports_its_latency_gauges);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
