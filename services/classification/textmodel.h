/* The trained text classifier as the service uses it: a fastText model (ftshim.h) that was
 * checked before fastText saw it, whose labels are all known sub-categories, read on the
 * tokens of a normalised text (textnorm.h).
 *
 * A model file is built by `make model` (cp-textmodel train) from the corpus in
 * services/classification/corpus; it is never edited by hand. */
#ifndef CP_TEXTMODEL_H
#define CP_TEXTMODEL_H

#include <stddef.h>

struct textmodel;

/* What the model read: its choice and the runner-up with their probabilities (0..1). */
struct textmodel_reading {
	char subcategory[48];
	double probability;
	char second[48];
	double second_probability;
};

/* Checks that path is a complete, unquantized fastText 0.9 supervised model whose sizes agree
 * with each other and with the file's length, without trusting any count in it. 0, or -1
 * with the problem in errstr ("'x.bin' is truncated: ..."). */
int textmodel_check_file(const char *path, char *errstr, size_t errlen)
    __attribute__((warn_unused_result));

/* Checks and loads the model at path; every label must be a known sub-category. NULL with the
 * reason in errstr on failure (never a crash on a bad file). */
struct textmodel *textmodel_load(const char *path, char *errstr, size_t errlen)
    __attribute__((warn_unused_result));
/* Accepts NULL. */
void textmodel_free(struct textmodel *m);

/* Reads the model's tokens of a text (textnorm_tokens). 0, or -1 when the model could not
 * read it (out is then empty). Thread-safe. */
int textmodel_read(const struct textmodel *m, const char *tokens, struct textmodel_reading *out)
    __attribute__((warn_unused_result));

/* The model's input for a text, the one definition training and the service share: the
 * normalised text (t2s through n when not NULL) into norm[TEXTNORM_MAX], its tokens followed by
 * the keyword features of kw (classify_keyword_tokens; kw may be NULL) into
 * tokens[TEXTMODEL_TOKENS_MAX]. */
#define TEXTMODEL_TOKENS_MAX (2 * 8192 + 2048)
struct textnorm;
struct kw_table;
void textmodel_input(struct textnorm *n, const struct kw_table *kw, const char *text, char *norm,
		     char *tokens);

/* textmodel_input then textmodel_read. */
int textmodel_read_text(const struct textmodel *m, struct textnorm *n, const struct kw_table *kw,
			const char *text, struct textmodel_reading *out)
    __attribute__((warn_unused_result));

#endif
