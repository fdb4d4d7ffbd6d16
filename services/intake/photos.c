/* Photos leave the store: a person deletes one (DELETE
 * /v1/staff/complaints/{no}/attachments/{n}, with a reason), and the retention sweep deletes
 * those of cases closed more than PHOTO_RETENTION_SECONDS ago.
 *
 * A parcel photo usually shows the label with a name, a phone number and an address, so it
 * is kept only while the case may still need it. Both ways remove the bytes and the row for
 * good and leave a timeline step, `attachment_deleted` {"attachment": n, "by": "staff" |
 * "retention"}, that says which photo went and why in general terms -- never the reason a
 * person typed, which is free text and goes only to intake.admin_audit with the photo's
 * metadata (type, size, who added it and when; not its bytes or its hash). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "auth.h"
#include "intake.h"
#include "log.h"
#include "pg.h"

#define PHOTO_REASON_MAX 500 /* characters */

/* clang-format off */
/* The case and the photo, the case row locked so the deletion and an upload of the same case
 * follow one another (the upload takes the same lock). */
static const char photo_find_sql[] =
    "SELECT c.id, coalesce(c.owner_staff_id, ''), coalesce(c.entered_by, ''), a.seq, "
    "  json_build_object('complaint_no', c.complaint_no, 'attachment', a.seq, "
    "    'content_type', a.content_type, 'bytes', a.bytes, 'uploaded_by', a.uploaded_by, "
    "    'uploaded_at', to_char(a.created_at AT TIME ZONE 'UTC', "
    "      'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'))::text "
    "FROM complaints c LEFT JOIN attachments a ON a.complaint_id = c.id AND a.seq = $2::int "
    "WHERE c.complaint_no = $1 FOR UPDATE OF c";

/* $1 complaint id  $2 photo number  $3 staff id */
static const char photo_delete_sql[] =
    "WITH gone AS (DELETE FROM attachments WHERE complaint_id = $1::uuid AND seq = $2::int "
    "  RETURNING complaint_id, seq), "
    "high AS (UPDATE complaints c SET attachments_last_seq = GREATEST(attachments_last_seq, "
    "  gone.seq) FROM gone WHERE c.id = gone.complaint_id) "
    "INSERT INTO timeline (complaint_id, step, actor, detail) SELECT complaint_id, "
    "  'attachment_deleted', $3, jsonb_build_object('attachment', seq, 'by', 'staff') FROM gone";

/* One batch of the sweep: $1 retention seconds, $2 cases. The cases come from the partial
 * index complaints_photos_to_sweep (closed, not swept since), oldest closure first, each
 * locked or skipped (another instance's sweep or an upload holds it: the next round takes
 * it). Every photo of a chosen case goes, each leaves its timeline step, and the case is
 * marked swept so it leaves the index until a photo is added again. DELETE ... RETURNING
 * hands the rows back in the heap's order, not the photos' order, so the steps are inserted
 * sorted: the timeline reads by id and shows photo 1 gone before photo 2. Returns the number
 * of cases and of photos. */
static const char photo_sweep_sql[] =
    "WITH due AS (SELECT id FROM complaints "
    "  WHERE closed_at IS NOT NULL AND photos_swept_at IS NULL "
    "    AND closed_at < now() - make_interval(secs => $1::double precision) "
    "  ORDER BY closed_at LIMIT $2::int FOR UPDATE SKIP LOCKED), "
    "gone AS (DELETE FROM attachments a USING due WHERE a.complaint_id = due.id "
    "  RETURNING a.complaint_id, a.seq), "
    "marked AS (UPDATE complaints c SET photos_swept_at = now(), "
    "  attachments_last_seq = GREATEST(attachments_last_seq, "
    "    (SELECT coalesce(max(g.seq), 0) FROM gone g WHERE g.complaint_id = c.id)) "
    "  FROM due WHERE c.id = due.id RETURNING c.id), "
    "steps AS (INSERT INTO timeline (complaint_id, step, actor, detail) SELECT complaint_id, "
    "  'attachment_deleted', 'system', jsonb_build_object('attachment', seq, 'by', 'retention') "
    "  FROM gone ORDER BY complaint_id, seq RETURNING 1) "
    "SELECT (SELECT count(*) FROM marked), (SELECT count(*) FROM steps)";
/* clang-format on */

/* The reason from the body: 1 to PHOTO_REASON_MAX characters, not blank. NULL after replying
 * (400/413/415 from http_req_json, 422 naming "reason"); the caller json_decref()s body. */
static const char *photo_reason(struct http_req *r, json_t **body)
{
	*body = http_req_json(r);
	if (!*body)
		return NULL;
	const char *reason = json_string_value(json_object_get(*body, "reason"));
	size_t chars = 0;
	bool blank = true;
	for (const char *p = reason; p && *p; p++) {
		chars += ((unsigned char)*p & 0xC0) != 0x80;
		blank = blank && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r');
	}
	if (!reason || blank || chars > PHOTO_REASON_MAX) {
		json_t *f = json_array();
		json_array_append_new(f, http_field("reason", "must be 1 to 500 characters, not "
							      "blank: why the photo is deleted"));
		http_reply_fields(r, 422, "validation_failed", f);
		return NULL;
	}
	return reason;
}

/* Inside the caller's transaction: finds the photo and checks the caller may delete it
 * (those who may see it). 0 with *found set to the row, or -1 after replying (the caller rolls
 * back). The caller PQclear()s *found. */
static int photo_find(struct http_req *r, const struct auth_principal *who, PGresult **found)
{
	PGresult *res =
	    pg_query(r->db, photo_find_sql, 2, (const char *[]){r->params[0], r->params[1]});
	*found = NULL;
	if (!res) {
		http_reply_db_error(r);
		return -1;
	}
	if (PQntuples(res) == 0)
		http_reply_error(r, 404, "not_found", "no complaint with this number");
	else if (!intake_contact_entitled(who, PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2)))
		http_reply_error(r, 403, "not_entitled",
				 "only the people who handle this case delete its photos");
	else if (PQgetisnull(res, 0, 3))
		http_reply_error(r, 404, "not_found", "no such photo on this complaint");
	else {
		*found = res;
		return 0;
	}
	PQclear(res);
	return -1;
}

/* Deletes the photo found, records the step and the audit row; commits. Replies itself. */
static void photo_delete(struct http_req *r, const struct auth_principal *who, PGresult *found,
			 const char *reason)
{
	const char *cid = PQgetvalue(found, 0, 0), *seq = PQgetvalue(found, 0, 3);
	json_t *before = json_loads(PQgetvalue(found, 0, 4), 0, NULL);
	char key[192];
	snprintf(key, sizeof(key), "%s/%s", r->params[0], seq);
	if (!before ||
	    pg_exec(r->db, photo_delete_sql, 3, (const char *[]){cid, seq, who->staff_id}) != 0 ||
	    audit_record_reason(r->db, who->staff_id, "attachments", key, before, NULL, reason) !=
		0 ||
	    pg_commit(r->db) != 0) {
		json_decref(before);
		http_reply_db_error(r);
		return;
	}
	json_decref(before);
	log_msg(LOG_INFO, "photo_deleted",
		LOG_KV({"complaint_no", r->params[0]}, {"attachment", seq},
		       {"staff_id", who->staff_id}),
		"a photo was deleted by hand");
	http_reply_json(r, 200,
			json_pack("{s:s, s:i, s:b}", "complaint_no", r->params[0], "attachment",
				  atoi(seq), "deleted", 1));
}

void intake_staff_delete_attachment(struct http_req *r, void *arg)
{
	struct auth_principal who;
	if (auth_caller(r, &who) != 0)
		return;
	if (!intake_attachment_seq(r, "no such photo on this complaint"))
		return;
	json_t *body = NULL;
	const char *reason = photo_reason(r, &body);
	PGresult *found = NULL;
	if (!reason)
		goto free_body;
	if (pg_begin(r->db) != 0) {
		http_reply_db_error(r);
		goto free_body;
	}
	if (photo_find(r, &who, &found) != 0) {
		pg_rollback(r->db);
		goto free_body;
	}
	photo_delete(r, &who, found, reason);
	PQclear(found);
free_body:
	json_decref(body);
}

/* Rounds of one batch each (its own transaction) until a round finds less than a batch, at
 * most PHOTO_SWEEP_ROUNDS per run, so a backlog after a long stop drains without one huge
 * transaction and without holding this thread from its next interval for long. */
#define PHOTO_SWEEP_ROUNDS 20

int intake_sweep_photos(PGconn *c, void *arg)
{
	if (intake_cfg.photo_retention_s == 0)
		return 0; /* the operator keeps photos for good */
	char secs[24], batch[16];
	snprintf(secs, sizeof(secs), "%lld", intake_cfg.photo_retention_s);
	snprintf(batch, sizeof(batch), "%lld", intake_cfg.photo_sweep_batch);
	for (int round = 0; round < PHOTO_SWEEP_ROUNDS; round++) {
		PGresult *res = pg_query(c, photo_sweep_sql, 2, (const char *[]){secs, batch});
		if (!res)
			return -1;
		long cases = atol(PQgetvalue(res, 0, 0)), photos = atol(PQgetvalue(res, 0, 1));
		PQclear(res);
		if (photos > 0)
			log_msg(LOG_INFO, "photos_swept", LOG_KV({"reason", "retention"}),
				"%ld photos of %ld closed cases deleted", photos, cases);
		if (cases < intake_cfg.photo_sweep_batch)
			break;
	}
	return 0;
}
