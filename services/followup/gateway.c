/* The gateway client: one signed HTTP(S) POST per notification through libcurl.
 *
 * Blocking by design: it runs only on the delivery task's thread, never on the event loop,
 * and every call is bounded by a connect and a total timeout. Each call has its own easy
 * handle, but they share one connection cache and TLS session cache (a CURLSH owned by the
 * delivery thread, the only caller, so no locks), so consecutive messages to the same
 * gateway reuse the connection instead of a new handshake each, and no handle outlives the
 * stack buffers (error text, answer excerpt) it was given.
 * Certificates are always verified (peer and host name); NOTIFY_CA_FILE replaces the
 * system's CA store for a gateway with a private CA. */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "followup.h"
#include "notify.h"

/* only the delivery task's thread touches it; it stays until exit */
static CURLSH *fu_gateway_share;

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

static CURL *fu_gateway_easy(void)
{
	if (!fu_gateway_share && (fu_gateway_share = curl_share_init())) {
		curl_share_setopt(fu_gateway_share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
		curl_share_setopt(fu_gateway_share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
		curl_share_setopt(fu_gateway_share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	}
	CURL *e = curl_easy_init();
	if (e && fu_gateway_share)
		curl_easy_setopt(e, CURLOPT_SHARE, fu_gateway_share);
	return e;
}

static void fu_gateway_setopts(CURL *e, const char *url, const char *body, long total_ms,
			       struct curl_slist *h, struct fu_gateway_result *res, char *errbuf)
{
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for DNS timeouts */
	curl_easy_setopt(e, CURLOPT_POST, 1L);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)fu_notify_cfg.connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, total_ms);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	if (fu_notify_cfg.ca_file && fu_notify_cfg.ca_file[0])
		curl_easy_setopt(e, CURLOPT_CAINFO, fu_notify_cfg.ca_file);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, fu_gateway_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, res);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "cp-followup");
}

int fu_gateway_post(const char *url, const char *secret, const char *note_id, const char *body,
		    long total_timeout_ms, struct fu_gateway_result *res)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	memset(res, 0, sizeof(*res));
	CURL *e = fu_gateway_easy();
	struct curl_slist *h = e ? fu_gateway_headers(secret, note_id, body) : NULL;
	if (!h) {
		snprintf(res->error, sizeof(res->error), "cannot prepare the request");
		curl_easy_cleanup(e);
		return -1;
	}
	fu_gateway_setopts(e, url, body, total_timeout_ms, h, res, errbuf);
	CURLcode rc = curl_easy_perform(e);
	if (rc == CURLE_OK)
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &res->status);
	curl_easy_cleanup(e);
	curl_slist_free_all(h);
	if (rc != CURLE_OK) {
		snprintf(res->error, sizeof(res->error), "%s: %s", curl_easy_strerror(rc),
			 errbuf[0] ? errbuf : "no detail");
		return -1;
	}
	if (res->status < 200 || res->status > 299) {
		snprintf(res->error, sizeof(res->error), "gateway answered %ld", res->status);
		return -1;
	}
	return 0;
}
