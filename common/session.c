#include "session.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ids.h"
#include "log.h"
#include "tstamp.h"

#define SESSION_SYNC_MAX_BODY (4 << 20)
/* The next sync asks again for what was revoked this long before the owner's clock of the
 * last answer: a revocation whose transaction committed after that answer but started before
 * it is not missed (those transactions are one statement long). */
#define SESSION_SYNC_OVERLAP_S 30

struct session_revoked {
	char hash[SESSION_HEX];
	long long expires;
};

static struct {
	char *secret;
	char *url;
	long long stale_ms;
	pthread_rwlock_t lock; /* guards revoked, n, cap */
	struct session_revoked *revoked;
	size_t n, cap;
	_Atomic double last_sync; /* tstamp_mono of the last applied answer; 0: never */
	long long since;	  /* sync thread only */
	bool failing;		  /* sync thread only: logs the change, not every attempt */
} session = {.lock = PTHREAD_RWLOCK_INITIALIZER};

int session_init(const char *secret, const char *authority_url, long long stale_ms)
{
	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -1;
	free(session.secret);
	free(session.url);
	session.secret = strdup(secret ? secret : "");
	session.url = strdup(authority_url ? authority_url : "");
	session.stale_ms = stale_ms;
	return session.secret && session.url ? 0 : -1;
}

void session_new_id(char sid[SESSION_HEX])
{
	unsigned char raw[32];
	ids_random(raw, sizeof(raw));
	sodium_bin2hex(sid, SESSION_HEX, raw, sizeof(raw));
}

void session_id_hash(const char *sid, char out[SESSION_HEX])
{
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(h, (const unsigned char *)sid, strlen(sid));
	sodium_bin2hex(out, SESSION_HEX, h, sizeof(h));
}

static int session_mac(const char *label, const char *msg, char out[SESSION_HEX])
{
	char buf[SESSION_COOKIE_MAX + 32];
	int n = snprintf(buf, sizeof(buf), "%s:%s", label, msg);
	if (n < 0 || (size_t)n >= sizeof(buf) || !session.secret)
		return -1;
	return ids_hmac_hex(session.secret, buf, (size_t)n, out);
}

int session_csrf_token(const char *sid_hash, char out[SESSION_HEX])
{
	return session_mac("csrf", sid_hash, out);
}

int session_sync_signature(const char *since, char out[SESSION_HEX])
{
	return session_mac("revocations", since, out);
}

static bool session_role_ok(const char *role)
{
	size_t n = strlen(role);
	if (n == 0 || n >= sizeof(((struct session_claims *)0)->role))
		return false;
	for (size_t i = 0; i < n; i++)
		if (role[i] < 'a' || role[i] > 'z')
			return false;
	return true;
}

int session_cookie_make(const struct session_claims *c, char *out, size_t cap)
{
	char staff_hex[2 * sizeof(c->staff_id) + 1], mac[SESSION_HEX];
	size_t sn = strlen(c->staff_id);
	if (sn == 0 || strlen(c->sid) != 64 || !session_role_ok(c->role))
		return -1;
	sodium_bin2hex(staff_hex, sizeof(staff_hex), (const unsigned char *)c->staff_id, sn);
	/* the staff id is hex so that no character of it can end a field or the cookie */
	int n = snprintf(out, cap, "v1.%s.%lld.%s.%s", c->sid, c->expires, c->role, staff_hex);
	if (n < 0 || (size_t)n + 66 > cap || session_mac("cp-session", out, mac) != 0)
		return -1;
	snprintf(out + n, cap - (size_t)n, ".%s", mac);
	return 0;
}

static bool session_is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* Splits "v1.sid.exp.role.staffhex.mac" into its fields; false when it is not that shape. */
static bool session_fields(char *copy, char *f[6])
{
	char *save = NULL;
	int k = 0;
	for (char *p = strtok_r(copy, ".", &save); p; p = strtok_r(NULL, ".", &save)) {
		if (k == 6)
			return false;
		f[k++] = p;
	}
	return k == 6 && strcmp(f[0], "v1") == 0 && strlen(f[1]) == 64 &&
	       session_is_hex(f[1], 64) && strlen(f[5]) == 64 && session_is_hex(f[5], 64);
}

int session_cookie_read(const char *value, long long now, struct session_claims *out)
{
	char copy[SESSION_COOKIE_MAX], mac[SESSION_HEX], *f[6], *end = NULL;
	size_t len = strlen(value), bin = 0;
	if (len < 70 || len >= sizeof(copy))
		return -1;
	memcpy(copy, value, len + 1);
	/* the signature covers everything before the last dot, exactly as it was sent */
	copy[len - 65] = '\0';
	if (session_mac("cp-session", copy, mac) != 0 || !ids_equal(mac, value + len - 64))
		return -1;
	memcpy(copy, value, len + 1);
	if (!session_fields(copy, f) || !session_role_ok(f[3]))
		return -1;
	out->expires = strtoll(f[2], &end, 10);
	if (*end || out->expires <= now)
		return -1;
	memset(out->staff_id, 0, sizeof(out->staff_id));
	if (sodium_hex2bin((unsigned char *)out->staff_id, sizeof(out->staff_id) - 1, f[4],
			   strlen(f[4]), NULL, &bin, NULL) != 0 ||
	    bin == 0)
		return -1;
	snprintf(out->sid, sizeof(out->sid), "%s", f[1]);
	snprintf(out->role, sizeof(out->role), "%s", f[3]);
	return 0;
}

bool session_cookie_find(const char *header, const char *name, char *out, size_t cap)
{
	size_t nlen = strlen(name);
	for (const char *p = header; p && *p;) {
		while (*p == ' ' || *p == ';')
			p++;
		const char *end = strchr(p, ';');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
			if (len - nlen - 1 >= cap)
				return false;
			memcpy(out, p + nlen + 1, len - nlen - 1);
			out[len - nlen - 1] = '\0';
			return true;
		}
		p = end;
	}
	return false;
}

static int session_cmp(const void *a, const void *b)
{
	return strcmp(((const struct session_revoked *)a)->hash,
		      ((const struct session_revoked *)b)->hash);
}

static bool session_is_revoked(const char *hash)
{
	struct session_revoked key;
	snprintf(key.hash, sizeof(key.hash), "%s", hash);
	pthread_rwlock_rdlock(&session.lock);
	bool found = session.n &&
		     bsearch(&key, session.revoked, session.n, sizeof(key), session_cmp) != NULL;
	pthread_rwlock_unlock(&session.lock);
	return found;
}

enum session_verdict session_check(const char *cookie_header, long long now,
				   struct session_claims *out)
{
	char value[SESSION_COOKIE_MAX], hash[SESSION_HEX];
	if (!session_cookie_find(cookie_header, SESSION_COOKIE, value, sizeof(value)) ||
	    session_cookie_read(value, now, out) != 0)
		return SESSION_NONE;
	double last = atomic_load(&session.last_sync);
	/* fail closed: a revocation we may not have heard of must not let a session through */
	if (last == 0 || (tstamp_mono() - last) * 1000.0 > (double)session.stale_ms)
		return SESSION_UNVERIFIABLE;
	session_id_hash(out->sid, hash);
	return session_is_revoked(hash) ? SESSION_REVOKED : SESSION_OK;
}

/* Appends under the write lock, then sorts, drops duplicates and what has expired. */
static void session_add_locked(const struct session_revoked *add, size_t k, long long now)
{
	if (session.n + k > session.cap) {
		size_t cap = (session.n + k) * 2 + 64;
		struct session_revoked *v = realloc(session.revoked, cap * sizeof(*v));
		if (!v)
			return;
		session.revoked = v;
		session.cap = cap;
	}
	if (session.n + k == 0)
		return; /* nothing held, nothing new (memcpy and qsort take no NULL) */
	memcpy(session.revoked + session.n, add, k * sizeof(*add));
	session.n += k;
	qsort(session.revoked, session.n, sizeof(*add), session_cmp);
	size_t w = 0;
	for (size_t i = 0; i < session.n; i++) {
		if (session.revoked[i].expires <= now ||
		    (w && strcmp(session.revoked[w - 1].hash, session.revoked[i].hash) == 0))
			continue;
		session.revoked[w++] = session.revoked[i];
	}
	session.n = w;
}

void session_revoke_local(const char *sid_hash, long long expires)
{
	struct session_revoked one;
	snprintf(one.hash, sizeof(one.hash), "%s", sid_hash);
	one.expires = expires;
	pthread_rwlock_wrlock(&session.lock);
	session_add_locked(&one, 1, tstamp_now_ms() / 1000);
	pthread_rwlock_unlock(&session.lock);
}

/* Copies the array's entries into add[]; false when one is malformed. */
static bool session_parse_revoked(const json_t *arr, struct session_revoked *add)
{
	size_t i;
	const json_t *e;
	json_array_foreach (arr, i, e) {
		const char *h = json_string_value(json_object_get(e, "sid_hash"));
		const json_t *exp = json_object_get(e, "expires");
		if (!h || strlen(h) != 64 || !session_is_hex(h, 64) || !json_is_integer(exp))
			return false;
		memcpy(add[i].hash, h, SESSION_HEX);
		add[i].expires = json_integer_value(exp);
	}
	return true;
}

int session_revocations_apply(const char *body, size_t len)
{
	json_t *j = json_loadb(body, len, 0, NULL);
	const json_t *arr = json_object_get(j, "revoked"), *now = json_object_get(j, "now");
	size_t k = json_array_size(arr);
	struct session_revoked *add = calloc(k ? k : 1, sizeof(*add));
	bool ok =
	    add && json_is_array(arr) && json_is_integer(now) && session_parse_revoked(arr, add);
	if (ok) {
		pthread_rwlock_wrlock(&session.lock);
		session_add_locked(add, k, json_integer_value(now));
		pthread_rwlock_unlock(&session.lock);
		session.since = json_integer_value(now) - SESSION_SYNC_OVERLAP_S;
		atomic_store(&session.last_sync, tstamp_mono());
	}
	free(add);
	json_decref(j);
	return ok ? 0 : -1;
}

struct session_body {
	char *data;
	size_t len;
};

static size_t session_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct session_body *b = arg;
	size_t n = size * nmemb;
	if (b->len + n > SESSION_SYNC_MAX_BODY)
		return 0; /* libcurl fails the transfer: an answer this big is not the owner's */
	char *grown = realloc(b->data, b->len + n + 1);
	if (!grown)
		return 0;
	memcpy(grown + b->len, ptr, n);
	b->data = grown;
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

/* One GET of the owner's revocations since session.since. Returns 0 or -1 (errbuf says). */
static int session_fetch(struct session_body *b, char *errbuf)
{
	char since[24], sig[SESSION_HEX], url[600], hdr[120];
	long status = 0;
	snprintf(since, sizeof(since), "%lld", session.since > 0 ? session.since : 0);
	if (session_sync_signature(since, sig) != 0)
		return -1;
	snprintf(url, sizeof(url), "%s/v1/auth/revocations?since=%s", session.url, since);
	snprintf(hdr, sizeof(hdr), "X-Session-Sync: %s", sig);
	CURL *e = curl_easy_init();
	struct curl_slist *h = curl_slist_append(NULL, hdr);
	if (!e || !h) {
		curl_slist_free_all(h);
		curl_easy_cleanup(e);
		return -1;
	}
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, session_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
	CURLcode rc = curl_easy_perform(e);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(e);
	if (rc == CURLE_OK && status != 200)
		snprintf(errbuf, CURL_ERROR_SIZE, "the owner answered HTTP %ld", status);
	return rc == CURLE_OK && status == 200 ? 0 : -1;
}

int session_sync_task(PGconn *c, void *arg)
{
	struct session_body b = {0};
	char errbuf[CURL_ERROR_SIZE] = "";
	if (!session.url || !session.url[0])
		return 0;
	int rc = session_fetch(&b, errbuf);
	if (rc == 0 && session_revocations_apply(b.data ? b.data : "", b.len) != 0) {
		snprintf(errbuf, sizeof(errbuf), "the revocations answer is malformed");
		rc = -1;
	}
	free(b.data);
	if (rc != 0 && !session.failing)
		log_warn("session_sync_failed",
			 "staff session revocations could not be fetched from %s: %s; cookie "
			 "sessions are refused after SESSION_STALE_MS without an answer",
			 session.url, errbuf[0] ? errbuf : "unknown error");
	else if (rc == 0 && session.failing)
		log_info("session_sync_restored", "staff session revocations are current again");
	session.failing = rc != 0;
	return 0;
}
