/* Unit tests: the recovery properties every Kafka client of common/kafka.c gets (the bounded
 * reconnect back-off and connection set-up time that bring the services back soon after a
 * broker restart; the chaos battery in tests/chaos prints the recovery they give), and that
 * the environment still overrides them. On librdkafka's in-process mock cluster, no broker. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "kafka.h"

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

int main(void)
{
	Suite *s = suite_create("common_kafka");
	TCase *tc = tcase_create("recovery");
	tcase_add_test(tc, every_client_gets_the_recovery_defaults);
	tcase_add_test(tc, the_environment_overrides_them);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, a_complete_batch_is_sent_without_waiting_out_linger);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
