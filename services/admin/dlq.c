/* cp-admin dlq list | replay: the operator's view of complaint.deadletter.v1 and the way back.
 *
 * A dead letter is the original record (key, value, headers) plus dlq_reason, dlq_topic,
 * dlq_partition, dlq_offset and dlq_group headers. `list` prints one JSON line per dead letter
 * (no payload: it may hold personal data). `replay` produces the selected ones to the topic
 * they came from, with their own key and CloudEvents headers (the dlq_* ones dropped), so every
 * consumer group reads them again: the services that applied the event skip it by its ce_id
 * (the inbox), the one that dead-lettered it never recorded it and applies it now — or
 * dead-letters it again with the reason. An event dead-lettered by several services is
 * replayed once. `--value-file` replaces the payload of the one selected event with fixed
 * bytes (the operator's corrected protobuf). */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "consumer.h"
#include "kafka.h"
#include "log.h"
#include "topics.h"

#define DLQ_MAX_SELECT 256

struct dlq_opts {
	const char *bootstrap;
	bool replay, all, dry_run;
	const char *topic, *group, *reason, *value_file;
	const char *select[DLQ_MAX_SELECT]; /* "partition:offset" or a ce_id */
	int nselect;
};

static const char *dlq_header(const rd_kafka_message_t *m, const char *name, char *buf, size_t cap)
{
	rd_kafka_headers_t *h = NULL;
	const void *v;
	size_t n;
	buf[0] = '\0';
	if (rd_kafka_message_headers(m, &h) != RD_KAFKA_RESP_ERR_NO_ERROR || !h ||
	    rd_kafka_header_get_last(h, name, &v, &n) != RD_KAFKA_RESP_ERR_NO_ERROR || !v)
		return buf;
	n = n < cap - 1 ? n : cap - 1;
	memcpy(buf, v, n);
	buf[n] = '\0';
	return buf;
}

static bool dlq_selected(const struct dlq_opts *o, const rd_kafka_message_t *m)
{
	char buf[512], pos[64];
	if (o->topic && strcmp(dlq_header(m, "dlq_topic", buf, sizeof(buf)), o->topic) != 0)
		return false;
	if (o->group && strcmp(dlq_header(m, "dlq_group", buf, sizeof(buf)), o->group) != 0)
		return false;
	if (o->reason && !strstr(dlq_header(m, "dlq_reason", buf, sizeof(buf)), o->reason))
		return false;
	if (o->nselect == 0)
		return o->all || !o->replay;
	snprintf(pos, sizeof(pos), "%d:%lld", m->partition, (long long)m->offset);
	dlq_header(m, "ce_id", buf, sizeof(buf));
	for (int i = 0; i < o->nselect; i++)
		if (strcmp(o->select[i], pos) == 0 || (buf[0] && strcmp(o->select[i], buf) == 0))
			return true;
	return false;
}

static void dlq_print(const rd_kafka_message_t *m)
{
	static const char *const names[] = {"dlq_reason", "dlq_topic", "dlq_partition",
					    "dlq_offset", "dlq_group", "ce_id",
					    "ce_type",	  "ce_source"};
	char buf[1024], esc[2100];
	printf("{\"partition\":%d,\"offset\":%lld", m->partition, (long long)m->offset);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		log_json_escape(esc, 0, sizeof(esc), dlq_header(m, names[i], buf, sizeof(buf)));
		printf(",\"%s\":\"%s\"", names[i], esc);
	}
	printf(",\"bytes\":%zu}\n", m->len);
}

static void *dlq_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = malloc(CONSUMER_MAX_PAYLOAD);
	*len = buf ? fread(buf, 1, CONSUMER_MAX_PAYLOAD, f) : 0;
	fclose(f);
	return buf;
}

/* Produces m back to its original topic; headers but the dlq_* ones, value or the fix. */
static int dlq_replay_one(struct kafka_producer *p, const rd_kafka_message_t *m, const void *fixed,
			  size_t fixed_len)
{
	char topic[256], err[256], key[256];
	rd_kafka_headers_t *orig = NULL, *h = rd_kafka_headers_new(8);
	dlq_header(m, "dlq_topic", topic, sizeof(topic));
	bool known = false;
	for (size_t i = 0; i < TOPICS_COUNT; i++)
		known |= strcmp(topics_all[i], topic) == 0 && strcmp(topic, TOPIC_DEADLETTER) != 0;
	if (!known) {
		fprintf(stderr, "cp-admin: dead letter %d:%lld names no known topic '%s'\n",
			m->partition, (long long)m->offset, topic);
		rd_kafka_headers_destroy(h);
		return -1;
	}
	if (rd_kafka_message_headers(m, &orig) == RD_KAFKA_RESP_ERR_NO_ERROR && orig) {
		const char *name;
		const void *v;
		size_t n;
		for (size_t i = 0;
		     rd_kafka_header_get_all(orig, i, &name, &v, &n) == RD_KAFKA_RESP_ERR_NO_ERROR;
		     i++)
			if (strncmp(name, "dlq_", 4) != 0)
				rd_kafka_header_add(h, name, -1, v, (ssize_t)n);
	}
	size_t klen = m->key_len < sizeof(key) - 1 ? m->key_len : sizeof(key) - 1;
	memcpy(key, m->key ? m->key : "", m->key ? klen : 0);
	key[m->key ? klen : 0] = '\0';
	struct kafka_dr dr;
	struct kafka_dr_slot slot = {.group = &dr};
	kafka_dr_init(&dr);
	int rc = kafka_produce(p, topic, m->key ? key : NULL, fixed ? fixed : m->payload,
			       fixed ? fixed_len : m->len, h, &slot, err, sizeof(err));
	if (rc != 0) {
		rd_kafka_headers_destroy(h);
		fprintf(stderr, "cp-admin: %s\n", err);
	}
	while (rc == 0 && kafka_dr_wait(&dr, 1000) > 0)
		;
	if (rc == 0 && slot.err)
		rc = -1;
	kafka_dr_destroy(&dr);
	return rc;
}

static int dlq_usage(void)
{
	fprintf(stderr,
		"usage: cp-admin dlq list [--topic T] [--group G] [--reason TEXT]\n"
		"       cp-admin dlq replay (--all | PARTITION:OFFSET... | CE_ID...) [--topic T] "
		"[--group G] [--reason TEXT] [--value-file FILE] [--dry-run]\n");
	return 2;
}

static int dlq_parse(int argc, char **argv, struct dlq_opts *o)
{
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		const char **target = strcmp(a, "--topic") == 0	       ? &o->topic
				      : strcmp(a, "--group") == 0      ? &o->group
				      : strcmp(a, "--reason") == 0     ? &o->reason
				      : strcmp(a, "--value-file") == 0 ? &o->value_file
								       : NULL;
		if (target) {
			if (++i == argc)
				return -1;
			*target = argv[i];
		} else if (strcmp(a, "--all") == 0) {
			o->all = true;
		} else if (strcmp(a, "--dry-run") == 0) {
			o->dry_run = true;
		} else if (a[0] != '-' && o->nselect < DLQ_MAX_SELECT) {
			o->select[o->nselect++] = a;
		} else {
			return -1;
		}
	}
	/* replaying everything needs --all said out loud; a fix replaces exactly one payload */
	if (o->replay && !o->all && o->nselect == 0)
		return -1;
	if (o->value_file && (o->all || o->nselect != 1))
		return -1;
	return 0;
}

int admin_dlq(const char *bootstrap, int argc, char **argv)
{
	struct dlq_opts o = {.bootstrap = bootstrap};
	char err[512];
	if (argc < 1 || (strcmp(argv[0], "list") != 0 && strcmp(argv[0], "replay") != 0))
		return dlq_usage();
	o.replay = strcmp(argv[0], "replay") == 0;
	if (dlq_parse(argc - 1, argv + 1, &o) != 0)
		return dlq_usage();
	size_t fixed_len = 0;
	void *fixed = o.value_file ? dlq_read_file(o.value_file, &fixed_len) : NULL;
	if (o.value_file && !fixed) {
		fprintf(stderr, "cp-admin: cannot read %s\n", o.value_file);
		return 2;
	}
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof(err)) ||
	    rd_kafka_conf_set(conf, "group.id", "cp-admin-dlq", err, sizeof(err)) ||
	    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err))) {
		fprintf(stderr, "cp-admin: %s\n", err);
		rd_kafka_conf_destroy(conf);
		free(fixed);
		return 2;
	}
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
	if (!rk) {
		fprintf(stderr, "cp-admin: %s\n", err);
		free(fixed);
		return 1;
	}
	struct kafka_producer *p =
	    o.replay && !o.dry_run ? kafka_producer_new(bootstrap, "cp-admin-dlq", err, sizeof(err))
				   : NULL;
	int rc = o.replay && !o.dry_run && !p ? 1 : 0;
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, TOPIC_DEADLETTER, NULL);
	if (rc == 0 && rd_kafka_metadata(rk, 0, rkt, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		fprintf(stderr, "cp-admin: no metadata for %s\n", TOPIC_DEADLETTER);
		rc = 1;
	}
	/* read every partition from its start to its end as it is now (no group offsets) */
	rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(8);
	int64_t *high = NULL;
	int nparts = rc == 0 && md->topic_cnt == 1 ? md->topics[0].partition_cnt : 0;
	high = calloc((size_t)nparts + 1, sizeof(*high));
	for (int i = 0; i < nparts && rc == 0; i++) {
		int64_t lo;
		if (rd_kafka_query_watermark_offsets(rk, TOPIC_DEADLETTER, i, &lo, &high[i],
						     10000)) {
			rc = 1;
			break;
		}
		if (high[i] > lo)
			rd_kafka_topic_partition_list_add(parts, TOPIC_DEADLETTER, i)->offset = lo;
	}
	if (rc == 0 && parts->cnt > 0 && rd_kafka_assign(rk, parts) != RD_KAFKA_RESP_ERR_NO_ERROR)
		rc = 1;
	int open = rc == 0 ? parts->cnt : 0, replayed = 0, listed = 0;
	char seen[DLQ_MAX_SELECT * 4][64];
	int nseen = 0;
	while (open > 0 && rc == 0) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 10000);
		if (!m) {
			fprintf(stderr, "cp-admin: the broker did not answer within 10 s\n");
			rc = 1;
			break;
		}
		if (m->err) {
			if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
				fprintf(stderr, "cp-admin: %s\n", rd_kafka_message_errstr(m));
				rc = 1;
			}
			rd_kafka_message_destroy(m);
			continue;
		}
		if (m->offset + 1 >= high[m->partition])
			open--;
		if (dlq_selected(&o, m)) {
			char ce_id[64];
			dlq_header(m, "ce_id", ce_id, sizeof(ce_id));
			bool dup = false;
			for (int i = 0; i < nseen && ce_id[0] && !dup; i++)
				dup = strcmp(seen[i], ce_id) == 0;
			if (!o.replay) {
				dlq_print(m);
				listed++;
			} else if (!dup) {
				if (ce_id[0] && nseen < (int)(sizeof(seen) / sizeof(seen[0])))
					snprintf(seen[nseen++], sizeof(seen[0]), "%s", ce_id);
				dlq_print(m);
				if (!o.dry_run && dlq_replay_one(p, m, fixed, fixed_len) != 0)
					rc = 1;
				else
					replayed++;
			}
		}
		rd_kafka_message_destroy(m);
	}
	if (o.replay)
		fprintf(stderr, "cp-admin: %d dead letter(s) %s\n", replayed,
			o.dry_run ? "would be replayed" : "replayed to their topics");
	else
		fprintf(stderr, "cp-admin: %d dead letter(s)\n", listed);
	if (o.replay && rc == 0 && replayed == 0 && o.nselect > 0) {
		fprintf(stderr, "cp-admin: nothing matched the selection\n");
		rc = 1;
	}
	free(high);
	rd_kafka_topic_partition_list_destroy(parts);
	if (md)
		rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(rkt);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	if (p)
		kafka_producer_destroy(p, 10000);
	free(fixed);
	return rc;
}
