/* A thin extern "C" shim over fastText (Debian's libfasttext, a C++ library), the only C++ in
 * the project: load a supervised model, predict the most probable labels for one line of
 * tokens, train a model from a file. Every fastText exception is caught here and turned into
 * an errstr; nothing C++ crosses this header.
 *
 * fastText trusts its model files: a truncated file can make its loader loop or allocate
 * without bound. Callers check a file with textmodel_check_file (textmodel.h) before
 * ftshim_load. */
#ifndef CP_FTSHIM_H
#define CP_FTSHIM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FTSHIM_LABEL_MAX 48

struct ftshim;

/* Loads the model at path. NULL on failure with fastText's reason in errstr. */
struct ftshim *ftshim_load(const char *path, char *errstr, size_t errlen)
    __attribute__((warn_unused_result));
/* Accepts NULL. */
void ftshim_free(struct ftshim *m);

/* The model's labels, without fastText's "__label__" prefix. */
int ftshim_nlabels(const struct ftshim *m);
const char *ftshim_label(const struct ftshim *m, int i);

/* The k most probable labels for tokens (one line, space-separated), most probable first,
 * with their probabilities; returns how many were written (0..k), -1 on error. Thread-safe:
 * fastText's prediction keeps its state on the caller's stack. */
int ftshim_predict(const struct ftshim *m, const char *tokens, int k,
		   char labels[][FTSHIM_LABEL_MAX], float *probs)
    __attribute__((warn_unused_result));

/* Supervised training with fixed hyper-parameters: one thread and a fixed seed make the model
 * file the same on every run over the same input. */
struct ftshim_params {
	int dim, epoch, word_ngrams, minn, maxn, bucket, min_count, seed;
	double lr;
};
/* Trains on input (fastText format: "__label__x tok tok ...", one example per line) and
 * writes the model to output. 0 or -1 with the reason in errstr. */
int ftshim_train(const char *input, const char *output, const struct ftshim_params *p, char *errstr,
		 size_t errlen) __attribute__((warn_unused_result));

#ifdef __cplusplus
}
#endif

#endif
