/* The service's text reader (textreader.h). */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "textmodel.h"
#include "textnorm.h"
#include "textreader.h"

struct textreader_config textreader_cfg;

static struct textnorm *reader_norm;
static double reader_min_confidence;
/* The model is read by the consumer and swapped by the reload task: readers hold the read
 * lock for one prediction (microseconds), the swap holds the write lock for a pointer. */
static pthread_rwlock_t reader_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct textmodel *reader_model;
static volatile sig_atomic_t reader_reload_requested;

static void on_sighup(int sig)
{
	(void)sig;
	reader_reload_requested = 1;
}

static int parse_confidence(const char *s, double *out, char *errstr, size_t errlen)
{
	char *end = NULL;
	double v = strtod(s ? s : "", &end);
	if (!s || !s[0] || *end || v < 0 || v > 1) {
		snprintf(errstr, errlen,
			 "CLASSIFIER_MIN_CONFIDENCE: '%s' is not a number from 0 to 1", s ? s : "");
		return -1;
	}
	*out = v;
	return 0;
}

int textreader_init(char *errstr, size_t errlen)
{
	if (parse_confidence(textreader_cfg.min_confidence, &reader_min_confidence, errstr,
			     errlen) != 0)
		return -1;
	if (!(reader_norm = textnorm_new("t2s.json", errstr, errlen)))
		return -1;
	/* SIGHUP would end the process by default: here it asks for a reload */
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sighup;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGHUP, &sa, NULL);
	if (!textreader_cfg.model || !textreader_cfg.model[0]) {
		log_warn("classifier_absent", "CLASSIFIER_MODEL is not set: the keyword table "
					      "reads the texts");
		return 0;
	}
	char why[512];
	if (!(reader_model = textmodel_load(textreader_cfg.model, why, sizeof(why)))) {
		snprintf(errstr, errlen, "CLASSIFIER_MODEL: %s", why);
		return -1;
	}
	log_info("classifier_loaded", "text classifier loaded from %s (minimum confidence %.2f)",
		 textreader_cfg.model, reader_min_confidence);
	return 0;
}

bool textreader_has_model(void)
{
	pthread_rwlock_rdlock(&reader_lock);
	bool has = reader_model != NULL;
	pthread_rwlock_unlock(&reader_lock);
	return has;
}

void textreader_classify(const Cp__ComplaintReceived *c, const struct kw_table *kw, bool vip,
			 struct classify_result *out)
{
	char *norm = malloc(TEXTNORM_MAX), *tokens = malloc(TEXTMODEL_TOKENS_MAX);
	struct textmodel_reading rd = {0};
	struct classify_reading in = {NULL, NULL, 0, reader_min_confidence, NULL};
	if (norm && tokens) {
		/* the operator's keyword table is a feature of the model's input, as in training */
		textmodel_input(reader_norm, kw, c->description_redacted, norm, tokens);
		in.text = norm;
		pthread_rwlock_rdlock(&reader_lock);
		if (reader_model && textmodel_read(reader_model, tokens, &rd) == 0) {
			in.subcategory = rd.subcategory;
			in.probability = rd.probability;
		}
		pthread_rwlock_unlock(&reader_lock);
	}
	classify_complaint_read(c, kw, vip, &in, out);
	free(norm);
	free(tokens);
}

int textreader_task(PGconn *c, void *arg)
{
	if (!reader_reload_requested)
		return 0;
	reader_reload_requested = 0;
	char why[512];
	if (!textreader_cfg.model || !textreader_cfg.model[0]) {
		log_warn("classifier_reload_skipped", "SIGHUP: CLASSIFIER_MODEL is not set");
		return 0;
	}
	struct textmodel *m = textmodel_load(textreader_cfg.model, why, sizeof(why));
	if (!m) {
		log_error("classifier_reload_failed", "the model in use stays: %s", why);
		return 0;
	}
	pthread_rwlock_wrlock(&reader_lock);
	struct textmodel *old = reader_model;
	reader_model = m;
	pthread_rwlock_unlock(&reader_lock);
	textmodel_free(old);
	log_info("classifier_reloaded", "text classifier reloaded from %s", textreader_cfg.model);
	return 0;
}
