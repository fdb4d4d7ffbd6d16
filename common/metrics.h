/* Prometheus metrics (text exposition format 0.0.4). A metric is identified by its name and
 * its label set; lookups create it on first use, so callers may keep the returned pointer
 * (valid until metrics_reset) or look it up each time. Thread-safe. */
#ifndef CP_METRICS_H
#define CP_METRICS_H

#include <stddef.h>

struct metric;

/* labels is the inside of the braces, e.g. "topic=\"complaint.received.v1\"", or NULL. */
struct metric *metrics_counter(const char *name, const char *help, const char *labels);
struct metric *metrics_gauge(const char *name, const char *help, const char *labels);
/* buckets: ascending upper bounds (seconds for latencies); NULL uses latency defaults. */
struct metric *metrics_histogram(const char *name, const char *help, const char *labels,
				 const double *buckets, size_t nbuckets);

/* A summary whose quantiles are computed elsewhere (e.g. percentile_cont over a window in
 * PostgreSQL): rendered as <name>{quantile="q"}, <name>_sum and <name>_count. */
struct metric *metrics_summary(const char *name, const char *help, const char *labels);
/* Sets the summary's figures: nq quantiles (q ascending in (0,1)) with their values, and the
 * sum and count they were computed over; a NaN value renders as NaN (no observation). */
void metrics_summary_set(struct metric *m, const double *q, const double *values, size_t nq,
			 double sum, double count);

/* The standard process_* metrics (CPU seconds, resident and virtual memory, open and maximum
 * file descriptors, start time, threads), read from /proc/self now; call before rendering. */
void metrics_process_update(void);

void metrics_add(struct metric *m, double by);
void metrics_set(struct metric *m, double value);
void metrics_observe(struct metric *m, double value);
double metrics_value(const struct metric *m);

/* Returns a malloc'ed NUL-terminated exposition text; the caller frees it. */
char *metrics_render(void);

/* Forgets every metric (tests only). */
void metrics_reset(void);

#endif
