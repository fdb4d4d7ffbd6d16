// The extern "C" shim over fastText (ftshim.h). Kept to what C needs; every exception stops
// here.
#include <fasttext/fasttext.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <sstream>
#include <string>
#include <vector>

#include "ftshim.h"

static const char kLabelPrefix[] = "__label__";

struct ftshim {
	fasttext::FastText ft;
	std::vector<std::string> labels; // without the prefix, in fastText's order
};

static std::string strip_prefix(const std::string &label)
{
	size_t n = sizeof(kLabelPrefix) - 1;
	return label.compare(0, n, kLabelPrefix) == 0 ? label.substr(n) : label;
}

extern "C" struct ftshim *ftshim_load(const char *path, char *errstr, size_t errlen)
{
	ftshim *m = nullptr;
	try {
		m = new ftshim();
		m->ft.loadModel(std::string(path));
		if (m->ft.getArgs().model != fasttext::model_name::sup)
			throw std::invalid_argument("not a supervised (classification) model");
		auto dict = m->ft.getDictionary();
		for (int32_t i = 0; i < dict->nlabels(); i++)
			m->labels.push_back(strip_prefix(dict->getLabel(i)));
		return m;
	} catch (const std::exception &e) {
		snprintf(errstr, errlen, "fastText cannot load '%s': %s", path, e.what());
	} catch (...) {
		snprintf(errstr, errlen, "fastText cannot load '%s'", path);
	}
	delete m;
	return nullptr;
}

extern "C" void ftshim_free(struct ftshim *m)
{
	delete m;
}

extern "C" int ftshim_nlabels(const struct ftshim *m)
{
	return (int)m->labels.size();
}

extern "C" const char *ftshim_label(const struct ftshim *m, int i)
{
	return i >= 0 && (size_t)i < m->labels.size() ? m->labels[(size_t)i].c_str() : "";
}

extern "C" int ftshim_predict(const struct ftshim *m, const char *tokens, int k,
			      char labels[][FTSHIM_LABEL_MAX], float *probs)
{
	try {
		// the newline ends the line as in training (fastText adds its </s> token there)
		std::istringstream in(std::string(tokens) + "\n");
		std::vector<std::pair<fasttext::real, std::string>> out;
		if (!m->ft.predictLine(in, out, k, 0.0))
			return 0;
		int n = 0;
		for (const auto &p : out) {
			snprintf(labels[n], FTSHIM_LABEL_MAX, "%s", strip_prefix(p.second).c_str());
			probs[n++] = p.first;
		}
		return n;
	} catch (...) {
		return -1;
	}
}

extern "C" int ftshim_train(const char *input, const char *output, const struct ftshim_params *p,
			    char *errstr, size_t errlen)
{
	try {
		fasttext::Args a;
		a.input = input;
		a.output = output;
		a.model = fasttext::model_name::sup;
		a.loss = fasttext::loss_name::softmax;
		a.dim = p->dim;
		a.epoch = p->epoch;
		a.lr = p->lr;
		a.wordNgrams = p->word_ngrams;
		a.minn = p->minn;
		a.maxn = p->maxn;
		a.bucket = p->bucket;
		a.minCount = p->min_count;
		a.seed = p->seed;
		a.thread = 1; // more threads race on the shared weights: not reproducible
		a.verbose = 0;
		fasttext::FastText ft;
		ft.train(a);
		ft.saveModel(std::string(output));
		return 0;
	} catch (const std::exception &e) {
		snprintf(errstr, errlen, "fastText training failed: %s", e.what());
	} catch (...) {
		snprintf(errstr, errlen, "fastText training failed");
	}
	return -1;
}
