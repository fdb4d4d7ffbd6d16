/* cp-classification: classifies complaints, picks their SLA policy, routes them to staff
 * and sends the automatic first response. */
#include <string.h>

#include "audit.h"
#include "auth.h"
#include "classification.h"
#include "ownership.h"
#include "signin.h"
#include "svc.h"
#include "textreader.h"
#include "textreview.h"

struct classification_config classification_cfg;

static const struct cfg_entry classification_table[] = {
    {"SLA_FIRST_RESPONSE_SECONDS", CFG_INT, "180", 1, 86400,
     "fallback when no SLA policy row matches: first response to the customer",
     &classification_cfg.first_response_s},
    {"SLA_VERIFICATION_SECONDS", CFG_INT, "1800", 1, 604800,
     "fallback when no SLA policy row matches: facts verified, root cause located",
     &classification_cfg.verification_s},
    {"SLA_RESOLUTION_SECONDS", CFG_INT, "86400", 1, 2592000,
     "fallback when no SLA policy row matches: whole cycle until the customer confirms",
     &classification_cfg.resolution_s},
    {"SLA_REGULATORY_SECONDS", CFG_INT, "604800", 1, 2592000,
     "fallback when no SLA policy row matches: regulatory limit (7 days; 15 or 30 where "
     "rules say so)",
     &classification_cfg.regulatory_s},
    {"NEXT_UPDATE_SECONDS", CFG_INT, "300", 1, 86400,
     "the first response promises the next update within this time",
     &classification_cfg.next_update_s},
    {"KEYWORD_RELOAD_MS", CFG_INT, "5000", 100, 3600000,
     "how often the keyword table is checked for changes and reloaded",
     &classification_cfg.keyword_reload_ms},
    {"OFFER_TIMEOUT_SECONDS", CFG_INT, "120", 1, 86400,
     "an offer nobody accepted within this time goes to the next staff (or is escalated)",
     &classification_cfg.offer_timeout_s},
    {"OFFER_ROUNDS", CFG_INT, "2", 1, 10,
     "rounds of offers before the complaint is escalated to the outlet manager",
     &classification_cfg.offer_rounds},
    {"OFFER_SIZE", CFG_INT, "3", 1, 10, "staff offered a complaint in each round",
     &classification_cfg.offer_size},
    {"OFFER_SWEEP_MS", CFG_INT, "1000", 50, 600000, "how often expired offers are looked for",
     &classification_cfg.offer_sweep_ms},
    {"CLASSIFIER_MODEL", CFG_STR, "", 0, 0,
     "the trained text classifier (fastText .bin from `make model`); empty: the keyword table "
     "reads the texts. A file that cannot be loaded stops the start; SIGHUP reloads it",
     &textreader_cfg.model},
    {"CLASSIFIER_MIN_CONFIDENCE", CFG_STR, "0.6", 0, 0,
     "below this probability (0 to 1) of the model's reading a person confirms the category",
     &textreader_cfg.min_confidence},
    {"BREACH_MAX_AGE_SECONDS", CFG_INT, "86400", 60, 31536000,
     "an SLA breach fired longer ago than this is recorded but escalates to nobody (a replay "
     "of old breaches after an upgrade or a long outage must not page people)",
     &classification_cfg.breach_max_age_s},
    {"SESSION_TTL_SECONDS", CFG_INT, "43200", 300, 604800,
     "a staff sign-in lasts this long (then the person signs in again)", &signin_cfg.session_ttl_s},
    {"SESSION_COOKIE_SECURE", CFG_BOOL, "false", 0, 0,
     "mark session cookies Secure always; without it they are Secure when the front door "
     "says the client used https (X-Forwarded-Proto)",
     &signin_cfg.cookie_secure},
    {"SIGNIN_WINDOW_SECONDS", CFG_INT, "900", 10, 86400,
     "the window failed sign-ins are counted in", &signin_cfg.window_s},
    {"SIGNIN_MAX_FAILURES", CFG_INT, "5", 1, 1000,
     "failed sign-ins per staff id and client in a window before 429", &signin_cfg.max_per_staff},
    {"SIGNIN_MAX_FAILURES_PER_CLIENT", CFG_INT, "30", 1, 100000,
     "failed sign-ins per client (any staff id) in a window before 429",
     &signin_cfg.max_per_client},
    {"SIGNIN_PURGE_MS", CFG_INT, "60000", 100, 3600000,
     "how often expired sessions and old failure counts are purged", &signin_cfg.purge_ms},
    {"PASSWORD_OPSLIMIT", CFG_INT, "2", 1, 20,
     "Argon2id passes of crypto_pwhash (libsodium's interactive limit is 2)", &signin_cfg.pw_ops},
    {"PASSWORD_MEMLIMIT_KIB", CFG_INT, "65536", 8, 4194304,
     "Argon2id memory per hash in KiB (libsodium's interactive limit is 65536)",
     &signin_cfg.pw_mem_kib},
    {"PASSWORD_MAX_CONCURRENT", CFG_INT, "2", 1, 64,
     "password hashes run at once (each takes PASSWORD_MEMLIMIT_KIB); more sign-ins wait",
     &signin_cfg.pw_concurrent},
    {"BOOTSTRAP_ADMIN_ID", CFG_STR, "", 0, 0,
     "staff id of the first admin; given a password it is created once when it has none",
     &signin_cfg.bootstrap_id},
    {"BOOTSTRAP_ADMIN_PASSWORD", CFG_SECRET, "", 0, 0,
     "the first admin's password (make run generates one into the state dir)",
     &signin_cfg.bootstrap_password},
};

static const struct http_route classification_routes[] = {
    {"POST", "/v1/complaints/{}/accept", offers_accept, true, AUTH_STAFF},
    {"POST", "/v1/complaints/{}/reassign", transfer_reassign, true, AUTH_STAFF},
    {"POST", "/v1/complaints/{}/escalate", escalation_by_hand, true, AUTH_STAFF},
    {"GET", "/v1/offers/mine", offers_mine, true, AUTH_STAFF},
    {"GET", "/v1/complaints/{}/classification", registry_get_classification, true, AUTH_STAFF},
    {"PUT", "/v1/complaints/{}/classification", textreview_put, true, AUTH_STAFF},
    {"GET", "/v1/classification-reviews", textreview_queue, true, AUTH_STAFF},
    {"GET", "/v1/keywords", keywords_get, true, AUTH_SUPERVISORS},
    {"PUT", "/v1/keywords", keywords_put, true, AUTH_ADMIN},
    {"GET", "/v1/sla-policies", policies_get, true, AUTH_SUPERVISORS},
    {"PUT", "/v1/sla-policies", policies_put, true, AUTH_ADMIN},
    {"GET", "/v1/vip-customers", vip_list, true, AUTH_SUPERVISORS},
    {"PUT", "/v1/vip-customers/{}", vip_put, true, AUTH_ADMIN},
    {"DELETE", "/v1/vip-customers/{}", vip_delete, true, AUTH_ADMIN},
    {"GET", "/v1/staff-registry", registry_get, true, AUTH_SUPERVISORS},
    {"PUT", "/v1/staff-registry/{}", registry_put, true, AUTH_ADMIN},
    {"GET", "/v1/admin/audit/classification", audit_http_list, true, AUTH_SUPERVISORS},
    {"POST", "/v1/auth/session", signin_post_session, true, AUTH_PUBLIC},
    {"GET", "/v1/auth/session", signin_get_session, true, AUTH_STAFF | AUTH_INTEGRATION},
    {"DELETE", "/v1/auth/session", signin_delete_session, true, AUTH_STAFF},
    {"PUT", "/v1/auth/password", signin_put_password, true, AUTH_STAFF},
    {"GET", "/v1/auth/revocations", signin_get_revocations, true, AUTH_SERVICE},
    {"GET", "/v1/staff-credentials", signin_get_credentials, true, AUTH_ADMIN},
    {"PUT", "/v1/staff-credentials/{}", signin_put_credentials, true, AUTH_ADMIN},
    {"DELETE", "/v1/staff-credentials/{}", signin_delete_credentials, true, AUTH_ADMIN},
};

static const struct svc_task classification_tasks[] = {
    {"keywords_reload", keywords_task, &classification_cfg.keyword_reload_ms},
    {"offer_sweep", offers_sweep, &classification_cfg.offer_sweep_ms},
    {"signin_upkeep", signin_task, &signin_cfg.purge_ms},
};

static int classification_init(char *errstr, size_t errlen)
{
	if (signin_init(errstr, errlen) != 0)
		return -1;
	return textreader_init(errstr, errlen);
}

int main(int argc, char **argv)
{
	/* an event whose complaint_no belongs to another complaint here is dead-lettered */
	static const struct consumer_ids ids = {"classifications", "complaint_id"};
	const struct svc_def def = {
	    .name = "classification",
	    .ids = &ids,
	    .summary =
		"classifies complaints, applies SLA policies, routes to staff, answers first",
	    .default_port = 8082,
	    .cfg = classification_table,
	    .ncfg = sizeof(classification_table) / sizeof(classification_table[0]),
	    .handlers = classification_handlers,
	    .nhandlers = classification_nhandlers,
	    .sets = classification_set_handlers,
	    .nsets = classification_nset_handlers,
	    .routes = classification_routes,
	    .nroutes = sizeof(classification_routes) / sizeof(classification_routes[0]),
	    .tasks = classification_tasks,
	    .ntasks = sizeof(classification_tasks) / sizeof(classification_tasks[0]),
	    .init = classification_init,
	};
	return svc_main(argc, argv, &def);
}
