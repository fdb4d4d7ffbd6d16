/* The trained text classifier (textmodel.h): the model file check, loading through the
 * fastText shim, reading a text. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "classification.h"
#include "ftshim.h"
#include "textmodel.h"
#include "textnorm.h"

struct textmodel {
	struct ftshim *ft;
};

/* --- the file check ---
 *
 * fastText 0.9's model layout (FastText::saveModel): magic and version (int32 each); the
 * arguments (12 int32 and a double); the dictionary (size, nwords, nlabels as int32, ntokens
 * and pruneidx_size as int64, then per entry a NUL-terminated word, an int64 count and an
 * int8 type, then the prune index pairs); a quantization flag (bool) and the input matrix
 * (int64 rows and columns, then rows*columns floats); the same for the output matrix. Its
 * loader believes every count and loops or allocates on a truncated file, so each count is
 * bounded here and every matrix must fit in what is left of the file. */

#define FT_MAGIC       793712314
#define FT_VERSION     12
#define FT_MODEL_SUP   3
#define FT_MAX_ENTRIES 10000000
#define FT_MAX_WORD    4096
#define FT_MAX_DIM     1000
#define FT_MAX_BUCKET  20000000
#define FT_MAX_LABELS  1000

struct ftfile {
	FILE *f;
	const char *path;
	long long size;
	char *errstr;
	size_t errlen;
	bool failed;
};

struct ftargs {
	int32_t dim, ws, epoch, min_count, neg, word_ngrams, loss, model, bucket, minn, maxn,
	    lr_update_rate;
	double t;
};

static bool ff_fail(struct ftfile *ff, const char *what)
{
	if (!ff->failed)
		snprintf(ff->errstr, ff->errlen, "'%s' is not a usable fastText model: %s",
			 ff->path, what);
	ff->failed = true;
	return false;
}

static bool ff_read(struct ftfile *ff, void *buf, size_t n)
{
	if (ff->failed)
		return false;
	if (fread(buf, 1, n, ff->f) != n)
		return ff_fail(ff, "the file is truncated");
	return true;
}

static bool ff_args(struct ftfile *ff, struct ftargs *a)
{
	int32_t v[12];
	if (!ff_read(ff, v, sizeof(v)) || !ff_read(ff, &a->t, sizeof(a->t)))
		return false;
	a->dim = v[0];
	a->word_ngrams = v[5];
	a->loss = v[6];
	a->model = v[7];
	a->bucket = v[8];
	a->minn = v[9];
	a->maxn = v[10];
	if (a->model != FT_MODEL_SUP)
		return ff_fail(ff, "not a supervised (classification) model");
	if (a->dim < 1 || a->dim > FT_MAX_DIM || a->bucket < 0 || a->bucket > FT_MAX_BUCKET ||
	    a->loss < 1 || a->loss > 4 || a->word_ngrams < 1 || a->minn < 0 || a->maxn < a->minn)
		return ff_fail(ff, "its arguments are out of range");
	return true;
}

static bool ff_entries(struct ftfile *ff, int32_t size, int32_t *labels_seen)
{
	for (int32_t i = 0; i < size && !ff->failed; i++) {
		int c, len = 0;
		while ((c = fgetc(ff->f)) > 0 && len < FT_MAX_WORD)
			len++;
		if (c != 0)
			return ff_fail(ff, c == EOF ? "the file is truncated in the dictionary"
						    : "a dictionary word is too long");
		int64_t count;
		int8_t type;
		if (!ff_read(ff, &count, sizeof(count)) || !ff_read(ff, &type, sizeof(type)))
			return false;
		if (type != 0 && type != 1)
			return ff_fail(ff, "a dictionary entry has an unknown type");
		*labels_seen += type == 1;
	}
	return !ff->failed;
}

static bool ff_dict(struct ftfile *ff, int32_t *nwords, int32_t *nlabels)
{
	int32_t head[3], labels_seen = 0;
	int64_t ntokens, pruneidx;
	if (!ff_read(ff, head, sizeof(head)) || !ff_read(ff, &ntokens, sizeof(ntokens)) ||
	    !ff_read(ff, &pruneidx, sizeof(pruneidx)))
		return false;
	*nwords = head[1];
	*nlabels = head[2];
	if (head[0] < 1 || head[0] > FT_MAX_ENTRIES || head[1] < 0 || head[2] < 1 ||
	    head[2] > FT_MAX_LABELS || head[0] != head[1] + head[2])
		return ff_fail(ff, "its dictionary sizes disagree");
	if (pruneidx > 0)
		return ff_fail(ff, "pruned (quantized) models are not supported; use the .bin");
	if (!ff_entries(ff, head[0], &labels_seen))
		return false;
	return labels_seen == *nlabels ? true : ff_fail(ff, "its label count disagrees");
}

static bool ff_matrix(struct ftfile *ff, int64_t rows, int64_t cols)
{
	uint8_t quant;
	int64_t mn[2];
	if (!ff_read(ff, &quant, 1) || !ff_read(ff, mn, sizeof(mn)))
		return false;
	if (quant != 0)
		return ff_fail(ff, "quantized models are not supported; use the .bin");
	if (mn[0] != rows || mn[1] != cols)
		return ff_fail(ff, "a matrix does not match the dictionary and dimension");
	long long bytes = (long long)(rows * cols) * 4;
	long pos = ftell(ff->f);
	if (pos < 0 || ff->size - pos < bytes)
		return ff_fail(ff, "the file is truncated in a matrix");
	return fseek(ff->f, (long)bytes, SEEK_CUR) == 0 ? true : ff_fail(ff, "seek failed");
}

static bool ff_walk(struct ftfile *ff)
{
	int32_t sign[2], nwords, nlabels;
	struct ftargs a;
	if (!ff_read(ff, sign, sizeof(sign)))
		return false;
	if (sign[0] != FT_MAGIC)
		return ff_fail(ff, "wrong magic number (not a fastText model)");
	if (sign[1] != FT_VERSION)
		return ff_fail(ff, "unsupported fastText file version");
	if (!ff_args(ff, &a) || !ff_dict(ff, &nwords, &nlabels) ||
	    !ff_matrix(ff, (int64_t)nwords + a.bucket, a.dim) || !ff_matrix(ff, nlabels, a.dim))
		return false;
	return ftell(ff->f) == ff->size ? true : ff_fail(ff, "trailing bytes after the model");
}

int textmodel_check_file(const char *path, char *errstr, size_t errlen)
{
	struct stat st;
	struct ftfile ff = {NULL, path, 0, errstr, errlen, false};
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(errstr, errlen, "cannot read the model '%s': %s", path,
			 errno ? strerror(errno) : "not a regular file");
		return -1;
	}
	ff.size = (long long)st.st_size;
	if (!(ff.f = fopen(path, "rb"))) {
		snprintf(errstr, errlen, "cannot open the model '%s': %s", path, strerror(errno));
		return -1;
	}
	bool ok = ff_walk(&ff);
	fclose(ff.f);
	return ok ? 0 : -1;
}

/* --- loading and reading --- */

struct textmodel *textmodel_load(const char *path, char *errstr, size_t errlen)
{
	if (textmodel_check_file(path, errstr, errlen) != 0)
		return NULL;
	struct textmodel *m = calloc(1, sizeof(*m));
	if (!m || !(m->ft = ftshim_load(path, errstr, errlen)))
		goto failed;
	for (int i = 0; i < ftshim_nlabels(m->ft); i++)
		if (!classify_category_of(ftshim_label(m->ft, i))) {
			snprintf(errstr, errlen,
				 "the model '%s' has a label '%s' that is not a known "
				 "sub-category",
				 path, ftshim_label(m->ft, i));
			goto failed;
		}
	return m;
failed:
	textmodel_free(m);
	return NULL;
}

void textmodel_free(struct textmodel *m)
{
	if (!m)
		return;
	ftshim_free(m->ft);
	free(m);
}

int textmodel_read(const struct textmodel *m, const char *tokens, struct textmodel_reading *out)
{
	char labels[2][FTSHIM_LABEL_MAX];
	float probs[2];
	memset(out, 0, sizeof(*out));
	int n = ftshim_predict(m->ft, tokens, 2, labels, probs);
	if (n <= 0)
		return -1;
	snprintf(out->subcategory, sizeof(out->subcategory), "%s", labels[0]);
	out->probability = probs[0];
	if (n > 1) {
		snprintf(out->second, sizeof(out->second), "%s", labels[1]);
		out->second_probability = probs[1];
	}
	return 0;
}

void textmodel_input(struct textnorm *n, const struct kw_table *kw, const char *text, char *norm,
		     char *tokens)
{
	char features[2048];
	textnorm_text(n, text ? text : "", norm, TEXTNORM_MAX);
	textnorm_tokens(norm, tokens, TEXTMODEL_TOKENS_MAX - sizeof(features));
	classify_keyword_tokens(norm, kw, features, sizeof(features));
	strcat(tokens, features);
}

int textmodel_read_text(const struct textmodel *m, struct textnorm *n, const struct kw_table *kw,
			const char *text, struct textmodel_reading *out)
{
	char *norm = malloc(TEXTNORM_MAX), *tokens = malloc(TEXTMODEL_TOKENS_MAX);
	int rc = -1;
	if (norm && tokens) {
		textmodel_input(n, kw, text, norm, tokens);
		rc = textmodel_read(m, tokens, out);
	}
	free(norm);
	free(tokens);
	return rc;
}
