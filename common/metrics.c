#include "metrics.h"

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define METRICS_MAX	    512
#define METRICS_MAX_BUCKETS 16

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

struct metric {
	char name[96];
	char help[160];
	char labels[160];
	enum metric_type type;
	double value;
	double sum;
	unsigned long long count;
	size_t nbuckets;
	double bounds[METRICS_MAX_BUCKETS];
	unsigned long long buckets[METRICS_MAX_BUCKETS];
};

static pthread_mutex_t metrics_lock = PTHREAD_MUTEX_INITIALIZER;
static struct metric *metrics_all[METRICS_MAX];
static size_t metrics_n;
static struct metric metrics_overflow;
static const double metrics_latency_buckets[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1,
						 0.25,	0.5,   1,    2.5,   5,	  10};

static struct metric *metrics_find(const char *name, const char *labels)
{
	for (size_t i = 0; i < metrics_n; i++)
		if (strcmp(metrics_all[i]->name, name) == 0 &&
		    strcmp(metrics_all[i]->labels, labels) == 0)
			return metrics_all[i];
	return NULL;
}

static struct metric *metrics_get(const char *name, const char *help, const char *labels,
				  enum metric_type type)
{
	labels = labels ? labels : "";
	pthread_mutex_lock(&metrics_lock);
	struct metric *m = metrics_find(name, labels);
	if (!m && metrics_n < METRICS_MAX && (m = calloc(1, sizeof(*m)))) {
		snprintf(m->name, sizeof(m->name), "%s", name);
		snprintf(m->help, sizeof(m->help), "%s", help);
		snprintf(m->labels, sizeof(m->labels), "%s", labels);
		m->type = type;
		metrics_all[metrics_n++] = m;
	}
	pthread_mutex_unlock(&metrics_lock);
	return m ? m : &metrics_overflow;
}

struct metric *metrics_counter(const char *name, const char *help, const char *labels)
{
	return metrics_get(name, help, labels, METRIC_COUNTER);
}

struct metric *metrics_gauge(const char *name, const char *help, const char *labels)
{
	return metrics_get(name, help, labels, METRIC_GAUGE);
}

struct metric *metrics_histogram(const char *name, const char *help, const char *labels,
				 const double *buckets, size_t nbuckets)
{
	struct metric *m = metrics_get(name, help, labels, METRIC_HISTOGRAM);
	if (!buckets) {
		buckets = metrics_latency_buckets;
		nbuckets = sizeof(metrics_latency_buckets) / sizeof(double);
	}
	pthread_mutex_lock(&metrics_lock);
	if (m != &metrics_overflow && m->nbuckets == 0) {
		m->nbuckets = nbuckets < METRICS_MAX_BUCKETS ? nbuckets : METRICS_MAX_BUCKETS;
		memcpy(m->bounds, buckets, m->nbuckets * sizeof(double));
	}
	pthread_mutex_unlock(&metrics_lock);
	return m;
}

void metrics_add(struct metric *m, double by)
{
	pthread_mutex_lock(&metrics_lock);
	m->value += by;
	pthread_mutex_unlock(&metrics_lock);
}

void metrics_set(struct metric *m, double value)
{
	pthread_mutex_lock(&metrics_lock);
	m->value = value;
	pthread_mutex_unlock(&metrics_lock);
}

double metrics_value(const struct metric *m)
{
	pthread_mutex_lock(&metrics_lock);
	double v = m->type == METRIC_HISTOGRAM ? (double)m->count : m->value;
	pthread_mutex_unlock(&metrics_lock);
	return v;
}

void metrics_observe(struct metric *m, double value)
{
	pthread_mutex_lock(&metrics_lock);
	m->sum += value;
	m->count++;
	for (size_t i = 0; i < m->nbuckets; i++)
		if (value <= m->bounds[i])
			m->buckets[i]++;
	pthread_mutex_unlock(&metrics_lock);
}

struct metrics_buf {
	char *p;
	size_t len, cap;
};

static void mb_printf(struct metrics_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void mb_printf(struct metrics_buf *b, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		va_start(ap, fmt);
		int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if (b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		char *np = realloc(b->p, b->cap * 2 + (size_t)n);
		if (!np)
			return;
		b->p = np;
		b->cap = b->cap * 2 + (size_t)n;
	}
}

static void metrics_render_histogram(struct metrics_buf *b, const struct metric *m)
{
	const char *sep = m->labels[0] ? "," : "";
	for (size_t i = 0; i < m->nbuckets; i++)
		mb_printf(b, "%s_bucket{%s%sle=\"%g\"} %llu\n", m->name, m->labels, sep,
			  m->bounds[i], m->buckets[i]);
	mb_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", m->name, m->labels, sep, m->count);
	if (m->labels[0]) {
		mb_printf(b, "%s_sum{%s} %.6f\n%s_count{%s} %llu\n", m->name, m->labels, m->sum,
			  m->name, m->labels, m->count);
	} else {
		mb_printf(b, "%s_sum %.6f\n%s_count %llu\n", m->name, m->sum, m->name, m->count);
	}
}

static void metrics_render_one(struct metrics_buf *b, const struct metric *m)
{
	if (m->type == METRIC_HISTOGRAM)
		metrics_render_histogram(b, m);
	else {
		/* the exposition format spells the special values NaN, +Inf and -Inf (a gauge
		 * with nothing to measure is NaN); printf's "nan" and "inf" are not those */
		char v[32];
		if (isnan(m->value))
			snprintf(v, sizeof(v), "NaN");
		else if (isinf(m->value))
			snprintf(v, sizeof(v), "%cInf", m->value > 0 ? '+' : '-');
		else
			snprintf(v, sizeof(v), "%.17g", m->value);
		if (m->labels[0])
			mb_printf(b, "%s{%s} %s\n", m->name, m->labels, v);
		else
			mb_printf(b, "%s %s\n", m->name, v);
	}
}

char *metrics_render(void)
{
	static const char *const types[] = {"counter", "gauge", "histogram"};
	struct metrics_buf b = {malloc(8192), 0, 8192};
	if (!b.p)
		return NULL;
	b.p[0] = '\0';
	pthread_mutex_lock(&metrics_lock);
	for (size_t i = 0; i < metrics_n; i++) {
		const struct metric *m = metrics_all[i];
		if (metrics_find(m->name, m->labels) != m)
			continue;
		bool first = true;
		for (size_t j = 0; j < i; j++)
			if (strcmp(metrics_all[j]->name, m->name) == 0)
				first = false;
		if (!first)
			continue;
		mb_printf(&b, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name,
			  types[m->type]);
		for (size_t j = i; j < metrics_n; j++)
			if (strcmp(metrics_all[j]->name, m->name) == 0)
				metrics_render_one(&b, metrics_all[j]);
	}
	pthread_mutex_unlock(&metrics_lock);
	return b.p;
}

void metrics_reset(void)
{
	pthread_mutex_lock(&metrics_lock);
	for (size_t i = 0; i < metrics_n; i++)
		free(metrics_all[i]);
	metrics_n = 0;
	pthread_mutex_unlock(&metrics_lock);
}

/* --- process_* (the names and meanings of the Prometheus client libraries) --- */

/* Seconds since the epoch at which the machine booted (btime in /proc/stat). */
static double metrics_boot_time(void)
{
	FILE *f = fopen("/proc/stat", "r");
	char line[256];
	double btime = 0;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "btime %lf", &btime) == 1)
			break;
	if (f)
		fclose(f);
	return btime;
}

static double metrics_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return 0;
	double n = 0;
	for (struct dirent *e; (e = readdir(d));)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory stream's own descriptor */
}

void metrics_process_update(void)
{
	/* /proc/self/stat: the command may hold spaces, so fields are counted after its ')' */
	char buf[1024];
	FILE *f = fopen("/proc/self/stat", "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = '\0';
	const char *p = strrchr(buf, ')');
	unsigned long long utime = 0, stime = 0, start = 0, vsize = 0;
	long long rss = 0, threads = 0;
	if (!p || sscanf(p + 2,
			 "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d "
			 "%lld %*d %llu %llu %lld",
			 &utime, &stime, &threads, &start, &vsize, &rss) != 6)
		return;
	double hz = (double)sysconf(_SC_CLK_TCK), page = (double)sysconf(_SC_PAGESIZE);
	struct rlimit rl = {0};
	getrlimit(RLIMIT_NOFILE, &rl);
	metrics_set(metrics_counter("process_cpu_seconds_total",
				    "Total user and system CPU time spent in seconds.", NULL),
		    (double)(utime + stime) / hz);
	metrics_set(
	    metrics_gauge("process_resident_memory_bytes", "Resident memory size in bytes.", NULL),
	    (double)rss * page);
	metrics_set(
	    metrics_gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", NULL),
	    (double)vsize);
	metrics_set(metrics_gauge("process_open_fds", "Number of open file descriptors.", NULL),
		    metrics_open_fds());
	metrics_set(
	    metrics_gauge("process_max_fds", "Maximum number of open file descriptors.", NULL),
	    rl.rlim_cur == RLIM_INFINITY ? -1 : (double)rl.rlim_cur);
	metrics_set(metrics_gauge("process_start_time_seconds",
				  "Start time of the process since unix epoch in seconds.", NULL),
		    metrics_boot_time() + (double)start / hz);
	metrics_set(metrics_gauge("process_threads", "Number of OS threads in the process.", NULL),
		    (double)threads);
}
