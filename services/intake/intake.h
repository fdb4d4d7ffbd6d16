/* The intake service: the public complaint API, the complaint record and the customer's
 * view of the case (its timeline is fed by the other services' events). */
#ifndef CP_INTAKE_H
#define CP_INTAKE_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "auth.h"
#include "consumer.h"
#include "httpd.h"

#define INTAKE_MAX_GOODS       6
#define INTAKE_MAX_DEMAND      5
#define INTAKE_DESCRIPTION_MAX 2000 /* characters */

struct intake_config {
	char *pseudonym_key;
	char *pseudonym_key_previous;
	char *pseudonym_key_previous_until;
	char *link_secret;
	char *link_secret_previous;
	char *link_secret_previous_until;
	struct auth_keyring link_keys;	    /* built from the three link variables at start */
	struct auth_keyring pseudonym_keys; /* idem for PSEUDONYM_KEY */
	char *public_base_url;
	long long repeat_window_days;
	long long filing_window_days;
	long long proof_max_per_case;	/* failed customer proofs per case number and window */
	long long proof_max_per_client; /* failed customer proofs per client address and window */
	long long proof_window_s;
	long long proof_purge_ms;
	long long attachment_max_bytes;	     /* one photo */
	long long attachments_per_complaint; /* photos per case */
	long long photo_retention_s;	     /* after the case closed; 0 keeps them */
	long long photo_sweep_ms;
	long long photo_sweep_batch; /* cases per sweep transaction */
};
extern struct intake_config intake_cfg;

/* The customer's pseudonyms under every PSEUDONYM_KEY accepted at now_ms, the current key's
 * first (the one new complaints carry), into refs[AUTH_KEYRING_MAX + 1]; returns how many or
 * -1. */
int intake_customer_refs(const char *phone, int64_t now_ms, char refs[][30])
    __attribute__((warn_unused_result));

/* A validated complaint as posted. Strings are NUL-terminated copies. */
struct intake_input {
	char channel[16];
	char waybill_no[32];
	char name[128];
	char phone[32];
	char role[16];
	char language[8];
	char description[INTAKE_DESCRIPTION_MAX * 4 + 1];
	char type[16];
	char goods[INTAKE_MAX_GOODS][16];
	int ngoods;
	int64_t declared_value_fen;
	bool perishable;
	bool insured;
	int64_t insured_value_fen;
	int64_t freight_fen;
	char demand[INTAKE_MAX_DEMAND][16];
	int ndemand;
	char target_kind[20];
	char target_id[64];
	char preferred_contact[12];
	char outlet_id[64];
	int nattachments;
	char attachments_json[2048];
	char entered_by[64]; /* staff id of the agent who keyed it in; empty for the customer */
};

/* Validates body into in. Every problem is appended to errors as {"field", "problem"};
 * returns true when there were none. Pure: no I/O. */
bool intake_parse(const json_t *body, struct intake_input *in, json_t *errors);

bool intake_waybill_valid(const char *s);
bool intake_phone_valid(const char *s);
/* Masks for people not entitled to see personal data: "138****8000", "张*", "J*** S***". */
void intake_mask_phone(const char *phone, char *out, size_t cap);
void intake_mask_name(const char *name, char *out, size_t cap);
/* Whether a member of staff sees a complainant's contact in full: those who handle the case
 * (its owner, the agent who keyed it in) and supervisors/admins; other agents see it masked
 * ("only those who handle a case see it"). Pure. */
bool intake_contact_entitled(const struct auth_principal *who, const char *owner,
			     const char *entered_by);
/* Copies text with phone-like digit runs and every occurrence of name replaced. */
void intake_redact(const char *text, const char *name, char *out, size_t cap);
/* The stored `target` column: {"kind":..,"id":..} built by jansson, so quotes, backslashes
 * and control characters in the id are escaped. Caller frees; NULL when there is no target
 * or memory ran out. */
char *intake_target_json(const struct intake_input *in) __attribute__((warn_unused_result));
/* Priority 1 (highest) .. 5 from what intake knows; raised again by repeats. */
int intake_initial_priority(const struct intake_input *in);
/* The filing window: true when now_ms is within window_days of the pickup; otherwise fills
 * problem with a sentence naming the pickup time (picked_up_text) and the limit. */
bool intake_filing_window_ok(int64_t picked_up_ms, int64_t now_ms, long long window_days,
			     const char *picked_up_text, char *problem, size_t cap);
/* ---- lifecycle.c: the case lifecycle (pure) ---- */

/* True for the statuses of the lifecycle (staff search filter). */
bool intake_status_valid(const char *s);
/* closed, merged, withdrawn. */
bool intake_lifecycle_terminal(const char *status);
/* The status after a step towards next: next when the lifecycle allows it (forward only;
 * reopened from closed or from a worked case; nothing leaves merged or withdrawn), else cur.
 * Returns one of the two pointers (or a static name). */
const char *intake_lifecycle_next(const char *cur, const char *next);
/* What happens next, in the customer's language (zh-CN or en). */
const char *intake_lifecycle_next_step(const char *status, const char *language);
/* The clock whose deadline says by when the next step is due for a case in status:
 * first_response until the owner's first contact, verification while in contact, resolution
 * until the remedy is carried out; NULL when the customer is the one to act or it is over. */
const char *intake_lifecycle_next_clock(const char *status);
/* The lifecycle status a plan status leads to, or NULL when it moves nothing. */
const char *intake_lifecycle_of_resolution(const char *plan_status);
/* True when the customer may see the plan (and its amounts): approved or later. */
bool intake_plan_visible_to_customer(const char *plan_status);
/* closed, merged (close_reason duplicate) or withdrawn. */
const char *intake_lifecycle_of_closure(const char *close_reason);

/* A stuck parcel as the proactive case needs it (borrowed strings; "" when unknown). */
struct intake_delay {
	const char *waybill_no;
	const char *facility_id;
	const char *description;
	const char *recipient_ref;	/* the recipient's customer_ref the tracking feed named */
	const char *recipient_language; /* zh-CN, en */
	const char *recipient_contact;	/* sms, email, app, phone, wechat */
	const char *reason;		/* the carrier's exception reason (weather, ...) */
	const char *place;		/* the city, else the facility */
	int hours;			/* without a scan */
};

/* Opens a proactive case for a stuck parcel unless one is open (api.c). The case waits for a
 * complainant (customer_ref "proactive" in intake's row, so the first complaint about the
 * waybill adopts it); its received event names the recipient the tracking feed gave (else
 * "proactive") with the delay, so follow-up tells them before they complain. Inside the
 * caller's transaction; returns 0 or -1. */
int intake_open_proactive(PGconn *c, const struct intake_delay *d)
    __attribute__((warn_unused_result));

/* HTTP handlers (api.c, view.c, staff.c). */
void intake_post_complaint(struct http_req *r, void *arg);
void intake_get_complaint(struct http_req *r, void *arg);
/* Staff: an agent keys in a hotline or letter complaint for the customer (entered_by is the
 * token's staff id), and the staff list/search. Agent role or above. */
void intake_staff_post_complaint(struct http_req *r, void *arg);
void intake_staff_list_complaints(struct http_req *r, void *arg);
/* The whole case for staff in one request (casework.c), and the internal notes. */
void intake_staff_get_case(struct http_req *r, void *arg);
void intake_post_note(struct http_req *r, void *arg);

/* The customer's proof for an action on their case (view.c): the signed link's token or the
 * full phone number, throttled like the case view (the last four digits are not enough).
 * 0 with the complaint's id copied, or -1 after replying 401/404/429/503. */
int intake_customer_prove(struct http_req *r, const char *no, char *complaint_id, size_t cap)
    __attribute__((warn_unused_result));

/* Photos (attachments.c): the customer or a handler adds one (the image is the body);
 * the people who see the contact in full read it. */
void intake_post_attachment(struct http_req *r, void *arg);
/* The photo's number in the path ({n}, 1..1000): true, or false after replying 404 with
 * problem (a number that is no photo reads like a photo that is not there). */
bool intake_attachment_seq(struct http_req *r, const char *problem);
void intake_staff_get_attachment(struct http_req *r, void *arg);
void intake_customer_get_attachment(struct http_req *r, void *arg);

/* Periodic task (view.c): forgets failed proofs whose window has passed. */
int intake_purge_proof_failures(PGconn *c, void *arg);
/* The photo retention sweep (photos.c): deletes the photos of cases closed more than
 * PHOTO_RETENTION_SECONDS ago, in batches of PHOTO_SWEEP_BATCH cases. 0 or -1. */
int intake_sweep_photos(PGconn *c, void *arg);
/* DELETE /v1/staff/complaints/{no}/attachments/{n} {"reason"}: those who may see the photo. */
void intake_staff_delete_attachment(struct http_req *r, void *arg);

/* qr.c: the QR code of a waybill's complaint page (PUBLIC_BASE_URL/c/{waybill}). */
#define INTAKE_QR_DEFAULT_SCALE 8 /* PNG pixels per module */
#define INTAKE_QR_MAX_SCALE	32
/* SVG of the QR code of text (malloc'ed into *out); *modules, when not NULL, gets the symbol's
 * width in modules (without the 4-module quiet zone on each side). 0 or -1. */
int intake_qr_svg(const char *text, char **out, int *modules) __attribute__((warn_unused_result));
/* PNG (1-bit greyscale, scale pixels per module, quiet zone included) of the QR code of text. */
int intake_qr_png(const char *text, int scale, unsigned char **out, size_t *out_len)
    __attribute__((warn_unused_result));
void intake_get_waybill_qr_svg(struct http_req *r, void *arg);
void intake_get_waybill_qr_png(struct http_req *r, void *arg);

/* Event handlers that build the customer's timeline (timeline.c). */
extern const struct consumer_handler intake_handlers[];
extern const size_t intake_nhandlers;
extern const struct consumer_set_handler intake_set_handlers[];
extern const size_t intake_nset_handlers;

#endif
