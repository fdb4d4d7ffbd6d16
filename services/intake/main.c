/* cp-intake: the public complaint API and the customer's view of the case. */
#include <string.h>

#include "audit.h"
#include "auth.h"
#include "intake.h"
#include "svc.h"

struct intake_config intake_cfg;

static const struct cfg_entry intake_table[] = {
    {"PSEUDONYM_KEY", CFG_SECRET, "dev-only-pseudonym-key", 0, 0,
     "HMAC key turning phone numbers into the pseudonymous customer_ref carried by events",
     &intake_cfg.pseudonym_key},
    {"PSEUDONYM_KEY_PREVIOUS", CFG_SECRET, "", 0, 0,
     "the pseudonym key(s) PSEUDONYM_KEY replaced (comma-separated): a customer known under the "
     "old pseudonym is still recognised until PSEUDONYM_KEY_PREVIOUS_UNTIL; run `cp-admin "
     "pseudonyms rekey` to move the stored pseudonyms to the new key",
     &intake_cfg.pseudonym_key_previous},
    {"PSEUDONYM_KEY_PREVIOUS_UNTIL", CFG_STR, "", 0, 0,
     "RFC 3339 end of the previous pseudonym key's grace period (required with the key)",
     &intake_cfg.pseudonym_key_previous_until},
    {"CUSTOMER_LINK_SECRET", CFG_SECRET, "dev-only-link-secret", 0, 0,
     "HMAC key signing the token in the customer's case link", &intake_cfg.link_secret},
    {"CUSTOMER_LINK_SECRET_PREVIOUS", CFG_SECRET, "", 0, 0,
     "the link secret(s) CUSTOMER_LINK_SECRET replaced (comma-separated): links signed with "
     "them keep opening the case until CUSTOMER_LINK_SECRET_PREVIOUS_UNTIL",
     &intake_cfg.link_secret_previous},
    {"CUSTOMER_LINK_SECRET_PREVIOUS_UNTIL", CFG_STR, "", 0, 0,
     "RFC 3339 end of the previous link secret's grace period (required with the secret)",
     &intake_cfg.link_secret_previous_until},
    {"PUBLIC_BASE_URL", CFG_STR, "http://127.0.0.1:8080", 0, 0,
     "base URL of the front door, used in the customer's link", &intake_cfg.public_base_url},
    {"REPEAT_WINDOW_DAYS", CFG_INT, "30", 1, 365,
     "a complaint about the same waybill and type this many days after closure is a repeat",
     &intake_cfg.repeat_window_days},
    {"FILING_WINDOW_DAYS", CFG_INT, "365", 1, 3650,
     "complaints may be filed this many days after pickup", &intake_cfg.filing_window_days},
    {"PROOF_MAX_FAILURES_PER_CASE", CFG_INT, "5", 1, 1000,
     "failed customer proofs (wrong token or phone) one complaint number takes per window "
     "before 429",
     &intake_cfg.proof_max_per_case},
    {"PROOF_MAX_FAILURES_PER_CLIENT", CFG_INT, "20", 1, 100000,
     "failed customer proofs one client address makes per window before 429",
     &intake_cfg.proof_max_per_client},
    {"PROOF_WINDOW_SECONDS", CFG_INT, "900", 10, 86400,
     "the window the failed proofs are counted in", &intake_cfg.proof_window_s},
    {"PROOF_PURGE_MS", CFG_INT, "60000", 1000, 3600000,
     "how often failed proofs whose window has passed are deleted", &intake_cfg.proof_purge_ms},
    {"ATTACHMENT_MAX_BYTES", CFG_INT, "5242880", 1024, 20971520,
     "largest photo a complaint takes (bytes); larger gets 413", &intake_cfg.attachment_max_bytes},
    {"ATTACHMENTS_PER_COMPLAINT", CFG_INT, "5", 1, 50,
     "photos one complaint holds at most; one more gets 409",
     &intake_cfg.attachments_per_complaint},
    {"PHOTO_RETENTION_SECONDS", CFG_INT, "15552000", 0, 315360000,
     "photos of a case closed (or merged, withdrawn) this long ago are deleted by the sweep "
     "(default 180 days); 0 keeps them",
     &intake_cfg.photo_retention_s},
    {"PHOTO_SWEEP_MS", CFG_INT, "60000", 100, 86400000,
     "how often the photo retention sweep looks for closed cases past the retention",
     &intake_cfg.photo_sweep_ms},
    {"PHOTO_SWEEP_BATCH", CFG_INT, "100", 1, 10000,
     "closed cases whose photos one sweep transaction deletes at most (each holds at most "
     "ATTACHMENTS_PER_COMPLAINT)",
     &intake_cfg.photo_sweep_batch},
};

static const struct svc_task intake_tasks[] = {
    {"proof_failures_purge", intake_purge_proof_failures, &intake_cfg.proof_purge_ms},
    {"photo_sweep", intake_sweep_photos, &intake_cfg.photo_sweep_ms},
};

static const struct http_route intake_routes[] = {
    {"POST", "/v1/complaints", intake_post_complaint, true, AUTH_PUBLIC},
    {"GET", "/v1/complaints/{}", intake_get_complaint, true,
     AUTH_CUSTOMER | AUTH_STAFF | AUTH_INTEGRATION},
    {"GET", "/v1/staff/complaints", intake_staff_list_complaints, true, AUTH_STAFF},
    {"POST", "/v1/staff/complaints", intake_staff_post_complaint, true, AUTH_STAFF},
    {"GET", "/v1/staff/complaints/{}", intake_staff_get_case, true, AUTH_STAFF},
    {"POST", "/v1/complaints/{}/notes", intake_post_note, true, AUTH_STAFF},
    {"POST", "/v1/complaints/{}/attachments", intake_post_attachment, true,
     AUTH_CUSTOMER | AUTH_STAFF},
    {"GET", "/v1/staff/complaints/{}/attachments/{}", intake_staff_get_attachment, true,
     AUTH_STAFF},
    {"DELETE", "/v1/staff/complaints/{}/attachments/{}", intake_staff_delete_attachment, true,
     AUTH_STAFF},
    {"GET", "/v1/admin/audit/intake", audit_http_list, true, AUTH_SUPERVISORS},
    /* the customer's own photos, with the proof that opens their case */
    {"GET", "/v1/complaints/{}/attachments/{}", intake_customer_get_attachment, true,
     AUTH_CUSTOMER},
    /* public: the QR code printed on a waybill; no database, drawn on the loop thread */
    {"GET", "/v1/waybills/{}/qr.svg", intake_get_waybill_qr_svg, false, AUTH_PUBLIC},
    {"GET", "/v1/waybills/{}/qr.png", intake_get_waybill_qr_png, false, AUTH_PUBLIC},
};

static int intake_init(char *errstr, size_t errlen)
{
	if (auth_keyring_init(&intake_cfg.link_keys, "CUSTOMER_LINK_SECRET", intake_cfg.link_secret,
			      intake_cfg.link_secret_previous,
			      intake_cfg.link_secret_previous_until, errstr, errlen) != 0)
		return -1;
	return auth_keyring_init(&intake_cfg.pseudonym_keys, "PSEUDONYM_KEY",
				 intake_cfg.pseudonym_key, intake_cfg.pseudonym_key_previous,
				 intake_cfg.pseudonym_key_previous_until, errstr, errlen);
}

int main(int argc, char **argv)
{
	/* an event whose complaint_no belongs to another complaint here is dead-lettered */
	static const struct consumer_ids ids = {"complaints", "id"};
	const struct svc_def def = {
	    .name = "intake",
	    .ids = &ids,
	    .summary = "takes complaints from every channel and shows customers their case",
	    .default_port = 8081,
	    .cfg = intake_table,
	    .ncfg = sizeof(intake_table) / sizeof(intake_table[0]),
	    .init = intake_init,
	    .handlers = intake_handlers,
	    .nhandlers = intake_nhandlers,
	    .sets = intake_set_handlers,
	    .nsets = intake_nset_handlers,
	    .routes = intake_routes,
	    .nroutes = sizeof(intake_routes) / sizeof(intake_routes[0]),
	    .tasks = intake_tasks,
	    .ntasks = sizeof(intake_tasks) / sizeof(intake_tasks[0]),
	    .max_upload = &intake_cfg.attachment_max_bytes,
	};
	return svc_main(argc, argv, &def);
}
