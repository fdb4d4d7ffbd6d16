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
