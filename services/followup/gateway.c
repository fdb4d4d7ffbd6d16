/* The gateway client: signed HTTP(S) POSTs through libcurl, a batch at a time.
 *
 * Blocking by design: it runs only on the delivery task's thread, never on the event loop,
 * and every call is bounded by a connect and a total timeout. A batch runs on one multi
 * handle that lives as long as the thread (the only caller, so no locks): its connection
 * cache keeps the connections to each gateway open between batches (keep-alive) and its TLS
 * session cache spares a full handshake on a new one, so a message costs a request, not a
 * connection. At most `concurrency` transfers are in flight at once; the next call is added
 * only when one finishes, so no call's total timeout is spent waiting in curl's own queue.
 * Certificates are always verified (peer and host name); NOTIFY_CA_FILE replaces the
 * system's CA store for a gateway with a private CA. */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "followup.h"
#include "notify.h"

/* only the delivery task's thread touches it; it stays until exit */
static CURLM *fu_gateway_multi;

int fu_gateway_global_init(char *errstr, size_t errlen)
{
	CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
	if (rc != CURLE_OK) {
		snprintf(errstr, errlen, "libcurl: %s", curl_easy_strerror(rc));
		return -1;
	}
	return 0;
}

/* Keeps the start of the answer for the notification row and drops the rest. */
static size_t fu_gateway_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct fu_gateway_result *res = arg;
	size_t len = size * nmemb, have = strlen(res->excerpt);
	if (have + 1 < sizeof(res->excerpt)) {
		char part[sizeof(res->excerpt)];
		fu_excerpt(data, len, part, sizeof(res->excerpt) - have);
		memcpy(res->excerpt + have, part, strlen(part) + 1);
	}
	return len;
}

static struct curl_slist *fu_gateway_headers(const char *secret, const char *note_id,
					     const char *body)
{
	char ts[24], sig[65], line[160];
	struct curl_slist *h = NULL, *next;
	snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL));
	if (fu_sign(secret, ts, body, strlen(body), sig) != 0)
		return NULL;
	const char *fixed[] = {"Content-Type: application/json", "Expect:"};
	for (size_t i = 0; i < 2; i++) {
		if (!(next = curl_slist_append(h, fixed[i])))
			goto failed;
		h = next;
	}
	const char *fmt[] = {"X-CP-Timestamp: %s", "X-CP-Signature: sha256=%s",
			     "X-CP-Notification-Id: %s"};
	const char *val[] = {ts, sig, note_id};
	for (size_t i = 0; i < 3; i++) {
		snprintf(line, sizeof(line), fmt[i], val[i]);
		if (!(next = curl_slist_append(h, line)))
			goto failed;
		h = next;
	}
	return h;
failed:
	curl_slist_free_all(h);
	return NULL;
}

static void fu_gateway_setopts(struct fu_gateway_call *k, long total_ms)
{
	CURL *e = k->easy;
	curl_easy_setopt(e, CURLOPT_URL, k->url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for DNS timeouts */
	curl_easy_setopt(e, CURLOPT_POST, 1L);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, k->body);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(k->body));
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, k->headers);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)fu_notify_cfg.connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, total_ms);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	if (fu_notify_cfg.ca_file && fu_notify_cfg.ca_file[0])
		curl_easy_setopt(e, CURLOPT_CAINFO, fu_notify_cfg.ca_file);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, fu_gateway_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &k->res);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, k->errbuf);
	curl_easy_setopt(e, CURLOPT_PRIVATE, k);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "cp-followup");
}

static CURLM *fu_gateway_multi_get(long concurrency)
{
	if (!fu_gateway_multi && !(fu_gateway_multi = curl_multi_init()))
		return NULL;
	/* enough idle connections kept for every gateway at full concurrency */
	curl_multi_setopt(fu_gateway_multi, CURLMOPT_MAXCONNECTS, concurrency * FU_CH_COUNT);
	curl_multi_setopt(fu_gateway_multi, CURLMOPT_MAX_HOST_CONNECTIONS, concurrency);
	return fu_gateway_multi;
}

/* Prepares and adds call k; a call that cannot even be prepared ends at once as failed. */
static bool fu_gateway_start(CURLM *m, struct fu_gateway_call *k, long total_ms)
{
	memset(&k->res, 0, sizeof(k->res));
	k->errbuf[0] = '\0';
	k->rc = -1;
	k->easy = curl_easy_init();
	k->headers = k->easy ? fu_gateway_headers(k->secret, k->note_id, k->body) : NULL;
	if (k->headers) {
		fu_gateway_setopts(k, total_ms);
		if (curl_multi_add_handle(m, k->easy) == CURLM_OK)
			return true;
	}
	snprintf(k->res.error, sizeof(k->res.error), "cannot prepare the request");
	curl_slist_free_all(k->headers);
	curl_easy_cleanup(k->easy);
	k->headers = NULL;
	k->easy = NULL;
	return false;
}

/* Records what a finished transfer came to and releases its handle. */
static void fu_gateway_finish(CURLM *m, struct fu_gateway_call *k, CURLcode rc)
{
	if (rc == CURLE_OK)
		curl_easy_getinfo(k->easy, CURLINFO_RESPONSE_CODE, &k->res.status);
	curl_multi_remove_handle(m, k->easy);
	curl_easy_cleanup(k->easy);
	curl_slist_free_all(k->headers);
	k->easy = NULL;
	k->headers = NULL;
	if (rc != CURLE_OK)
		snprintf(k->res.error, sizeof(k->res.error), "%s: %.200s", curl_easy_strerror(rc),
			 k->errbuf[0] ? k->errbuf : "no detail");
	else if (k->res.status < 200 || k->res.status > 299)
		snprintf(k->res.error, sizeof(k->res.error), "gateway answered %ld", k->res.status);
	else
		k->rc = 0;
}

/* Collects the finished transfers; returns how many ended. */
static size_t fu_gateway_reap(CURLM *m)
{
	CURLMsg *msg;
	int left;
	size_t done = 0;
	while ((msg = curl_multi_info_read(m, &left))) {
		struct fu_gateway_call *k = NULL;
		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&k);
		fu_gateway_finish(m, k, msg->data.result);
		done++;
	}
	return done;
}

/* The multi handle failed: every transfer still in flight ends as failed (it is retried). */
static void fu_gateway_abort(CURLM *m, struct fu_gateway_call *calls, size_t started)
{
	for (size_t i = 0; i < started; i++)
		if (calls[i].easy)
			fu_gateway_finish(m, &calls[i], CURLE_ABORTED_BY_CALLBACK);
}

int fu_gateway_run(struct fu_gateway_call *calls, size_t n, long concurrency, long total_timeout_ms)
{
	CURLM *m = fu_gateway_multi_get(concurrency);
	size_t next = 0, active = 0;
	int running = 0;
	for (size_t i = 0; i < n; i++) {
		calls[i].rc = -1;
		calls[i].easy = NULL;
		snprintf(calls[i].res.error, sizeof(calls[i].res.error), "not attempted");
	}
	if (!m)
		return -1;
	while (next < n || active > 0) {
		while (next < n && active < (size_t)concurrency)
			if (fu_gateway_start(m, &calls[next++], total_timeout_ms))
				active++;
		if (curl_multi_perform(m, &running) != CURLM_OK)
			goto failed;
		active -= fu_gateway_reap(m);
		/* bounded: every transfer has its own total timeout, the poll only waits for
		 * sockets (and at most a second) */
		if (active > 0 && curl_multi_poll(m, NULL, 0, 1000, NULL) != CURLM_OK)
			goto failed;
	}
	return 0;
failed:
	fu_gateway_abort(m, calls, next);
	return -1;
}
