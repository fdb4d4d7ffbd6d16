/* cp-followup: notifications to the customer, surveys, closure, quality figures. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "auth.h"
#include "followup.h"
#include "notify.h"
#include "svc.h"

static const struct cfg_entry followup_table[] = {
    {"CUSTOMER_LINK_SECRET", CFG_SECRET, "dev-only-link-secret", 0, 0,
     "HMAC key of the token in the customer's case link (the same as intake's)",
     &followup_cfg.link_secret},
    {"CUSTOMER_LINK_SECRET_PREVIOUS", CFG_SECRET, "", 0, 0,
     "the link secret(s) CUSTOMER_LINK_SECRET replaced (comma-separated), accepted until "
     "CUSTOMER_LINK_SECRET_PREVIOUS_UNTIL (the same as intake's)",
     &followup_cfg.link_secret_previous},
    {"CUSTOMER_LINK_SECRET_PREVIOUS_UNTIL", CFG_STR, "", 0, 0,
     "RFC 3339 end of the previous link secret's grace period (required with the secret)",
     &followup_cfg.link_secret_previous_until},
    {"PUBLIC_BASE_URL", CFG_STR, "http://127.0.0.1:8080", 0, 0,
     "base URL of the front door, used in the survey link", &followup_cfg.public_base_url},
    {"NOTIFY_SMS_URL", CFG_STR, "", 0, 0,
     "SMS gateway (https://...; http:// on loopback for development); empty: WEBHOOK_URL",
     &fu_notify_cfg.gw[FU_CH_SMS].url},
    {"NOTIFY_SMS_SECRET", CFG_SECRET, "", 0, 0,
     "HMAC key of the SMS gateway; empty: WEBHOOK_SECRET", &fu_notify_cfg.gw[FU_CH_SMS].secret},
    {"NOTIFY_EMAIL_URL", CFG_STR, "", 0, 0, "e-mail relay; empty: WEBHOOK_URL",
     &fu_notify_cfg.gw[FU_CH_EMAIL].url},
    {"NOTIFY_EMAIL_SECRET", CFG_SECRET, "", 0, 0,
     "HMAC key of the e-mail relay; empty: WEBHOOK_SECRET", &fu_notify_cfg.gw[FU_CH_EMAIL].secret},
    {"NOTIFY_APP_URL", CFG_STR, "", 0, 0, "customer app push service; empty: WEBHOOK_URL",
     &fu_notify_cfg.gw[FU_CH_APP].url},
    {"NOTIFY_APP_SECRET", CFG_SECRET, "", 0, 0,
     "HMAC key of the customer app push service; empty: WEBHOOK_SECRET",
     &fu_notify_cfg.gw[FU_CH_APP].secret},
    {"NOTIFY_STAFF_APP_URL", CFG_STR, "", 0, 0, "staff app push service; empty: WEBHOOK_URL",
     &fu_notify_cfg.gw[FU_CH_STAFF_APP].url},
    {"NOTIFY_STAFF_APP_SECRET", CFG_SECRET, "", 0, 0,
     "HMAC key of the staff app push service; empty: WEBHOOK_SECRET",
     &fu_notify_cfg.gw[FU_CH_STAFF_APP].secret},
    {"NOTIFY_CA_FILE", CFG_STR, "", 0, 0,
     "PEM file of the CAs that gateway certificates are verified against (a private CA); "
     "empty: the system's CA store",
     &fu_notify_cfg.ca_file},
    {"NOTIFY_CONNECT_TIMEOUT_MS", CFG_INT, "2000", 100, 60000,
     "connect (TCP and TLS handshake) timeout of one gateway call",
     &fu_notify_cfg.connect_timeout_ms},
    {"NOTIFY_BATCH", CFG_INT, "100", 1, 1000,
     "notifications the delivery task claims, sends and records per round (one transaction "
     "records the whole round)",
     &fu_notify_cfg.batch},
    {"NOTIFY_CONCURRENCY", CFG_INT, "16", 1, 64,
     "gateway calls in flight at once (connections kept open per gateway for reuse)",
     &fu_notify_cfg.concurrency},
    {"NOTIFY_STAFF_LANGUAGE", CFG_STR, "zh-CN", 0, 0, "the language of staff notifications",
     &fu_notify_cfg.staff_language},
    {"APPROVERS", CFG_STR, "", 0, 0,
     "staff ids (comma-separated) told of every plan waiting for approval, besides the person "
     "the case's latest escalation named; resolution names no approver",
     &fu_notify_cfg.approvers},
    {"STREAM_HOLD_MS", CFG_INT, "5000", 0, 8000,
     "GET /v1/stream waits this long for a new staff notification before it ends (the browser "
     "reconnects at once); short enough for a clean shutdown",
     &fu_notify_cfg.stream_hold_ms},
    {"STREAM_MAX_HELD", CFG_INT, "4", 0, 64,
     "streams that may wait at a time, each holding an HTTP worker (keep it below "
     "HTTP_WORKERS); more answer at once and the browser polls",
     &fu_notify_cfg.stream_max_held},
    {"WEBHOOK_URL", CFG_STR, "", 0, 0,
     "the gateway of every channel without its own NOTIFY_<KIND>_URL; empty: the file adapter "
     "(messages are only logged, never \"delivered\")",
     &followup_cfg.webhook_url},
    {"WEBHOOK_SECRET", CFG_SECRET, "dev-only-webhook-secret", 0, 0,
     "HMAC-SHA256 key of every gateway without its own secret (X-CP-Signature: sha256=<hex of "
     "HMAC(key, X-CP-Timestamp + \".\" + body)>)",
     &followup_cfg.webhook_secret},
    {"WEBHOOK_TIMEOUT_MS", CFG_INT, "3000", 100, 60000,
     "total timeout of one gateway call (connect, send, answer)", &followup_cfg.webhook_timeout_ms},
    {"NOTIFY_FILE", CFG_STR, "", 0, 0,
     "file adapter: append one JSON line per notification here; empty: log it",
     &followup_cfg.notify_file},
    {"NOTIFY_MAX_ATTEMPTS", CFG_INT, "8", 1, 100,
     "delivery attempts before a notification is recorded as failed", &followup_cfg.max_attempts},
    {"NOTIFY_BACKOFF_MS", CFG_INT, "1000", 10, 3600000,
     "delay after the first failed attempt; doubled after each further one",
     &followup_cfg.backoff_ms},
    {"NOTIFY_BACKOFF_MAX_MS", CFG_INT, "600000", 10, 86400000, "the longest retry delay",
     &followup_cfg.backoff_max_ms},
    {"DELIVERY_INTERVAL_MS", CFG_INT, "200", 10, 60000,
     "how often the delivery task looks for notifications that waited (quiet hours, retries); "
     "a newly queued one is sent when its transaction commits",
     &followup_cfg.delivery_interval_ms},
    {"QUIET_HOURS_START_MIN", CFG_INT, "0", 0, 1439,
     "start of the quiet hours, minutes after local midnight (equal to the end: none)",
     &followup_cfg.quiet_start_min},
    {"QUIET_HOURS_END_MIN", CFG_INT, "0", 0, 1439,
     "end of the quiet hours, minutes after local midnight; messages wait until then (the "
     "first response is exempt)",
     &followup_cfg.quiet_end_min},
    {"QUIET_HOURS_UTC_OFFSET_MIN", CFG_INT, "480", -720, 840,
     "the customers' local time zone as minutes east of UTC (480: China)",
     &followup_cfg.quiet_utc_offset_min},
    {"SURVEY_TIMEOUT_S", CFG_INT, "259200", 1, 31536000,
     "a resolved case without a survey answer this long is closed without feedback",
     &followup_cfg.survey_timeout_s},
    {"CLOSE_INTERVAL_MS", CFG_INT, "1000", 10, 3600000,
     "how often unanswered surveys are looked for", &followup_cfg.close_interval_ms},
    {"STATS_INTERVAL_MS", CFG_INT, "30000", 100, 3600000,
     "how often the quality gauges are refreshed", &followup_cfg.stats_interval_ms},
    {"FCR_WINDOW_DAYS", CFG_INT, "7", 1, 365,
     "a case counts as first-contact resolved only if no complaint about the same waybill "
     "follows within this many days of its closure",
     &followup_cfg.fcr_window_days},
    {"STATS_WINDOW_DAYS", CFG_INT, "30", 1, 3650, "the period the quality gauges cover",
     &followup_cfg.stats_window_days},
};

static const struct http_route followup_routes[] = {
    {"POST", "/v1/complaints/{}/survey", fu_post_survey, true, AUTH_CUSTOMER},
    {"POST", "/v1/complaints/{}/messages", fu_post_message, true, AUTH_CUSTOMER},
    {"POST", "/v1/complaints/{}/await-customer", fu_post_await, true, AUTH_STAFF},
    /* one handler for both methods: the HTTP workers find a route by its pattern */
    {"GET", "/v1/templates", fu_get_templates, true, AUTH_STAFF},
    {"PUT", "/v1/templates", fu_put_template, true, AUTH_ADMIN},
    {"GET", "/v1/delay-reasons", fu_get_delay_reasons, true, AUTH_STAFF},
    {"PUT", "/v1/delay-reasons", fu_put_delay_reason, true, AUTH_ADMIN},
    {"GET", "/v1/admin/audit/followup", audit_http_list, true, AUTH_SUPERVISORS},
    {"GET", "/v1/stats", fu_get_stats, true, AUTH_SUPERVISORS},
    {"GET", "/v1/notifications", fu_get_notifications, true, AUTH_STAFF},
    {"GET", "/v1/stream", fu_get_stream, true, AUTH_STAFF | AUTH_QUERY_TOKEN},
    {"POST", "/v1/complaints/{}/contact", fu_post_contact, true, AUTH_STAFF},
    {"POST", "/v1/complaints/{}/calls", fu_post_call, true, AUTH_STAFF},
    {"POST", "/v1/complaints/{}/close", fu_post_close, true, AUTH_STAFF},
    {"POST", "/v1/complaints/{}/reopen", fu_post_reopen, true, AUTH_STAFF},
    {"GET", "/v1/complaints/{}/conversation", fu_get_conversation, true, AUTH_STAFF},
};

static const struct svc_task followup_tasks[] = {
    {"delivery", fu_deliver_task, &followup_cfg.delivery_interval_ms},
    {"close", fu_close_task, &followup_cfg.close_interval_ms},
    {"stats", fu_stats_task, &followup_cfg.stats_interval_ms},
};

/* A gateway URL the client cannot use is a configuration error, not a failed delivery. */
static int followup_check_url(const char *name, const char *url, char *errstr, size_t errlen)
{
	if (url[0] && !fu_gateway_url_ok(url)) {
		snprintf(errstr, errlen, "%s: not an http:// or https:// URL", name);
		return -1;
	}
	return 0;
}

static int followup_init(char *errstr, size_t errlen)
{
	if (fu_delivery_init() != 0) {
		snprintf(errstr, errlen, "cannot register the delivery's wake-up");
		return -1;
	}
	if (auth_keyring_init(&followup_cfg.link_keys, "CUSTOMER_LINK_SECRET",
			      followup_cfg.link_secret, followup_cfg.link_secret_previous,
			      followup_cfg.link_secret_previous_until, errstr, errlen) != 0)
		return -1;
	static const char *const names[FU_CH_COUNT] = {"NOTIFY_SMS_URL", "NOTIFY_EMAIL_URL",
						       "NOTIFY_APP_URL", "NOTIFY_STAFF_APP_URL"};
	if (followup_check_url("WEBHOOK_URL", followup_cfg.webhook_url, errstr, errlen) != 0)
		return -1;
	for (int i = 0; i < FU_CH_COUNT; i++)
		if (followup_check_url(names[i], fu_notify_cfg.gw[i].url, errstr, errlen) != 0)
			return -1;
	if (fu_notify_cfg.ca_file[0] && access(fu_notify_cfg.ca_file, R_OK) != 0) {
		snprintf(errstr, errlen, "NOTIFY_CA_FILE: cannot read '%s'", fu_notify_cfg.ca_file);
		return -1;
	}
	if (strcmp(fu_notify_cfg.staff_language, "en") != 0 &&
	    strcmp(fu_notify_cfg.staff_language, "zh-CN") != 0) {
		snprintf(errstr, errlen, "NOTIFY_STAFF_LANGUAGE: not one of zh-CN, en");
		return -1;
	}
	if (followup_cfg.backoff_ms > followup_cfg.backoff_max_ms) {
		snprintf(errstr, errlen, "NOTIFY_BACKOFF_MS: larger than NOTIFY_BACKOFF_MAX_MS");
		return -1;
	}
	/* before any thread starts: libcurl's global set-up is not thread-safe */
	return fu_gateway_global_init(errstr, errlen);
}

int main(int argc, char **argv)
{
	/* an event whose complaint_no belongs to another complaint here is dead-lettered */
	static const struct consumer_ids ids = {"cases", "complaint_id"};
	const struct svc_def def = {
	    .name = "followup",
	    .ids = &ids,
	    .summary = "keeps the customer informed at every step until they confirm",
	    .default_port = 8085,
	    .cfg = followup_table,
	    .ncfg = sizeof(followup_table) / sizeof(followup_table[0]),
	    .handlers = followup_handlers,
	    .nhandlers = followup_nhandlers,
	    .sets = followup_set_handlers,
	    .nsets = followup_nset_handlers,
	    .routes = followup_routes,
	    .nroutes = sizeof(followup_routes) / sizeof(followup_routes[0]),
	    .tasks = followup_tasks,
	    .ntasks = sizeof(followup_tasks) / sizeof(followup_tasks[0]),
	    /* the customer's acknowledgement waits on its consumer (receipt -> the 2xx) */
	    .prompt_fetch = true,
	    .init = followup_init,
	};
	return svc_main(argc, argv, &def);
}
