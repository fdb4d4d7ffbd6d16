/* The service's text reader: the OpenCC converter and the trained model, loaded at start from
 * CLASSIFIER_MODEL and swapped in on SIGHUP, and the one call the consumer makes to classify a
 * complaint with them (textreader_classify).
 *
 * Start-up: an unset CLASSIFIER_MODEL leaves the keyword table as the reader (logged); a set
 * one that cannot be loaded stops the start with the reason, it is never a crash later.
 * SIGHUP: the model_reload task loads the file again; a bad file is logged and the model in
 * use stays. */
#ifndef CP_TEXTREADER_H
#define CP_TEXTREADER_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "classification.h"

struct textreader_config {
	char *model;	      /* CLASSIFIER_MODEL: path of the fastText model ("" none) */
	char *min_confidence; /* CLASSIFIER_MIN_CONFIDENCE: 0..1 as text */
};
extern struct textreader_config textreader_cfg;

/* Opens OpenCC and loads the model (svc_def.init). 0, or -1 with the reason in errstr. */
int textreader_init(char *errstr, size_t errlen) __attribute__((warn_unused_result));

/* Classifies c: normalises its text, lets the model read it (when loaded) and decides with
 * the keyword table (classify_complaint_read). Thread-safe. */
void textreader_classify(const Cp__ComplaintReceived *c, const struct kw_table *kw, bool vip,
			 struct classify_result *out);

/* Called by the keyword reload task (every KEYWORD_RELOAD_MS): reloads the model after a
 * SIGHUP. Always 0 (a failed
 * reload is logged). */
int textreader_task(PGconn *c, void *arg);

/* Whether a model is loaded (for the start-up log and /readyz-like checks). */
bool textreader_has_model(void);

#endif
