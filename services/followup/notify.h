/* Notifications on real channels: which gateway a message goes to (the customer's preferred
 * contact, or the staff app), the signed HTTPS call to that gateway (libcurl), and the staff
 * notifications made from events (offers, assignments, escalations, clock warnings and
 * breaches, customer replies).
 *
 * Four channel kinds, each its own gateway (URL and secret): sms, email, app (customer push)
 * and staff_app (staff push). A kind without its own URL uses WEBHOOK_URL; with neither the
 * message is written to the file adapter and recorded as "logged", never as "delivered". */
#ifndef CP_FOLLOWUP_NOTIFY_H
#define CP_FOLLOWUP_NOTIFY_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ce.h"
#include "classification.pb-c.h"
#include "evidence.pb-c.h"
#include "followup.h"
#include "resolution.pb-c.h"
#include "sla.pb-c.h"

struct curl_slist;

enum fu_channel { FU_CH_SMS, FU_CH_EMAIL, FU_CH_APP, FU_CH_STAFF_APP, FU_CH_COUNT };

struct fu_gateway_config {
	char *url;    /* "" : WEBHOOK_URL, then the file adapter */
	char *secret; /* "" : WEBHOOK_SECRET */
};

struct fu_notify_config {
	struct fu_gateway_config gw[FU_CH_COUNT];
	char *ca_file; /* "" : the system's CA store */
	char *staff_language;
	long long connect_timeout_ms;
	long long stream_hold_ms;  /* how long GET /v1/stream waits for something new */
	long long stream_max_held; /* streams waiting at a time; more answer at once */
	char *approvers;	   /* staff ids told of every plan waiting for approval (csv) */
	long long batch;	   /* notifications claimed and sent per round */
	long long concurrency;	   /* gateway calls in flight at once */
};
extern struct fu_notify_config fu_notify_cfg;

/* ---- pure rules (channels.c) -------------------------------------------------------------- */

/* "sms", "email", "app", "staff_app". */
const char *fu_channel_name(enum fu_channel ch);

/* The channel of a message: staff ("staff:<id>") always the staff app; a customer their
 * preferred contact when it is sms, email or app, otherwise (phone, wechat, unknown) sms. */
enum fu_channel fu_channel_for(const char *recipient, const char *preferred_contact);

/* The signature of a gateway call: hex HMAC-SHA256(secret, timestamp + "." + body), so a
 * captured body cannot be replayed with a fresh timestamp. Returns 0 or -1. */
int fu_sign(const char *secret, const char *timestamp, const char *body, size_t len, char out[65])
    __attribute__((warn_unused_result));

/* A retry delay with jitter, so that many messages failing together do not retry together:
 * delay_ms scaled into [delay/2, delay) by r in [0, 1). */
int64_t fu_jitter_ms(int64_t delay_ms, double r);

/* A short, printable excerpt of a receiver's answer for the notification row: control
 * characters become spaces, cut at cap - 1 bytes on a UTF-8 boundary. */
void fu_excerpt(const char *body, size_t len, char *out, size_t cap);

/* A gateway URL the client accepts: http:// or https:// with a host. */
bool fu_gateway_url_ok(const char *url);

/* ---- the gateway client (gateway.c) -------------------------------------------------------- */

struct fu_gateway_result {
	long status;	   /* the HTTP status, 0 when none was received */
	char excerpt[256]; /* the start of the answer's body */
	char error[256];   /* why it failed ("" on a 2xx answer) */
};

/* Starts libcurl; call once before any thread uses the client. Returns 0 or -1. */
int fu_gateway_global_init(char *errstr, size_t errlen) __attribute__((warn_unused_result));

/* One gateway call of a batch. The caller fills the inputs (borrowed: they must outlive
 * fu_gateway_run); the client fills rc and res and owns the rest while the batch runs. */
struct fu_gateway_call {
	const char *url;
	const char *secret;  /* signs it: X-CP-Timestamp, X-CP-Signature */
	const char *note_id; /* X-CP-Notification-Id: a receiver drops repeats by it */
	const char *body;    /* JSON */
	int rc;		     /* 0 the receiver answered 2xx, else -1 (res says why) */
	struct fu_gateway_result res;
	/* the client's own */
	void *easy;
	struct curl_slist *headers;
	char errbuf[256];
};

/* POSTs every call, at most concurrency at a time over kept-alive connections (one per
 * gateway and slot, reused across batches). Blocks until each has its answer or its own
 * total timeout passed: call it only from the delivery task's thread, the only one that uses
 * the client. Returns 0 when every call ran (each rc says how it went), -1 when the client
 * itself failed (the calls it could not finish have rc -1: retry them). */
int fu_gateway_run(struct fu_gateway_call *calls, size_t n, long concurrency, long total_timeout_ms)
    __attribute__((warn_unused_result));

/* ---- notifications from events (notify_events.c), inside the caller's transaction -------- */

/* Queues step for staff_id ("staff:<id>", the staff app, never held by quiet hours), once per
 * (case, recipient, step, round, event_id). vars->text is stored with phone-like digit runs
 * removed. Returns 0 or -1. */
int fu_staff_notify(PGconn *c, const char *complaint_id, const char *staff_id, const char *step,
		    int round, const char *event_id, const struct fu_vars *vars)
    __attribute__((warn_unused_result));

/* Fills q as fu_staff_notify would queue it, for fu_notify_set. 0 or -1 (memory). */
int fu_staff_note(struct fu_note_req *q, const char *complaint_id, const char *staff_id,
		  const char *step, int round, const char *event_id, const struct fu_vars *vars)
    __attribute__((warn_unused_result));
/* The staff variables as JSON text: the text, redacted (malloc'ed, NULL on no memory). */
char *fu_staff_vars(const struct fu_vars *v);

/* cp.complaint.offered (every offered person; a later round also tells the earlier offerees
 * not offered again that their offer lapsed), .assigned (accepted/reassigned: the new owner),
 * .escalated (every person named, with the reason). */
int fu_staff_on_assignment(PGconn *c, const struct ce_meta *ce, const Cp__ComplaintAssignment *r)
    __attribute__((warn_unused_result));

/* complaint.sla.v1 warning or breach: the case's owner, if it has one. */
int fu_staff_on_sla(PGconn *c, const struct ce_meta *ce, const Cp__SlaEvent *r)
    __attribute__((warn_unused_result));

/* cp.complaint.resolution_proposed with status pending_approval: the case's supervisors, that
 * is the person its latest escalation named (cases.escalated_staff_id) and every staff id in
 * APPROVERS, each once. Nobody (logged) when neither exists. */
int fu_staff_on_plan_pending(PGconn *c, const struct ce_meta *ce, const Cp__ResolutionDecided *r)
    __attribute__((warn_unused_result));

/* cp.complaint.evidence_request_overdue: the case's owner, if it has one (an unowned case's
 * clocks escalate it to a person anyway). */
int fu_staff_on_evidence_overdue(PGconn *c, const struct ce_meta *ce, const Cp__EvidenceRequest *r)
    __attribute__((warn_unused_result));

/* ---- the staff's live stream (stream.c) ------------------------------------------------- */

/* GET /v1/stream: the caller's staff notifications as Server-Sent Events (resumable with
 * Last-Event-ID). Runs on an HTTP worker and may hold it up to STREAM_HOLD_MS. */
void fu_get_stream(struct http_req *r, void *arg);

#endif
