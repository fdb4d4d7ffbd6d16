/* Photos attached to a complaint: POST /v1/complaints/{no}/attachments (the image is the
 * body, its type the Content-Type) and, for staff who handle the case,
 * GET /v1/staff/complaints/{no}/attachments/{n}.
 *
 * Stored in intake's own table (attachments.data, bytea) next to the complaint they belong
 * to: a photo is committed with the same durability, backups and access control as the case,
 * and several intake instances see the same store with nothing to share on disk.
 *
 * Who may add one: the customer with the proof that opens their case (the signed link's
 * token or the full phone number, throttled like the case view), or staff who handle it (an
 * agent keying in what a caller sent). Who may see one: the people who see the complainant's
 * contact in full (owner, the agent who keyed it in, supervisors, admins) -- a parcel photo
 * usually shows the waybill label with a name, a phone number and an address -- and the
 * customer, the photos they sent themselves, with the same proof that opens their case
 * (GET /v1/complaints/{no}/attachments/{n}?token=). Nothing is public; a photo a member of
 * staff added is not the customer's to read (it may come from someone else).
 *
 * What is stored: only JPEG, PNG or WebP whose bytes say so (the Content-Type must agree),
 * within ATTACHMENT_MAX_BYTES, at most ATTACHMENTS_PER_COMPLAINT per case, copied without
 * their metadata (image.c: Exif with the GPS position, XMP, IPTC, text chunks). The same
 * image sent twice (a retried upload) is stored once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "image.h"
#include "intake.h"
#include "log.h"
#include "pg.h"

/* Who adds the photo: "customer", or the staff id of the person who handles the case. */
static int attach_who(struct http_req *r, const char *no, char *complaint_id, size_t cap, char *by,
		      size_t bycap)
{
	struct auth_principal who;
	if (!auth_presented(r)) {
		snprintf(by, bycap, "customer");
		return intake_customer_prove(r, no, complaint_id, cap);
	}
	if (auth_caller(r, &who) != 0)
		return -1;
	PGresult *res =
	    pg_query(r->db,
		     "SELECT id, coalesce(owner_staff_id, ''), coalesce(entered_by, '') "
		     "FROM complaints WHERE complaint_no = $1",
		     1, (const char *[]){no});
	int rc = -1;
	if (!res)
		http_reply_db_error(r);
	else if (PQntuples(res) == 0)
		http_reply_error(r, 404, "not_found", "no complaint with this number");
	else if (!intake_contact_entitled(&who, PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2)))
		http_reply_error(r, 403, "not_entitled",
				 "only the people who handle this case may add photos to it");
	else {
		snprintf(complaint_id, cap, "%s", PQgetvalue(res, 0, 0));
		snprintf(by, bycap, "%s", who.staff_id);
		rc = 0;
	}
	PQclear(res);
	return rc;
}

/* The type of the body: the magic numbers decide, and the Content-Type must name the same
 * type (a client sending HTML as image/png, or a PNG labelled JPEG, is refused). */
static enum intake_image_type attach_type(struct http_req *r)
{
	enum intake_image_type claimed =
	    intake_image_type_of_mime(http_req_header(r, "Content-Type"));
	if (claimed == INTAKE_IMAGE_NONE) {
		json_t *f = json_array();
		json_array_append_new(
		    f, http_field("Content-Type", "must be image/jpeg, image/png or image/webp"));
		http_reply_fields(r, 415, "unsupported_media_type", f);
		return INTAKE_IMAGE_NONE;
	}
	enum intake_image_type actual =
	    intake_image_sniff((const unsigned char *)r->body, r->body_len);
	if (actual != claimed) {
		json_t *f = json_array();
		json_array_append_new(
		    f, http_field("body", actual == INTAKE_IMAGE_NONE
					      ? "is not a JPEG, PNG or WebP image"
					      : "is a different image type than the Content-Type"));
		http_reply_fields(r, 415, "unsupported_media_type", f);
		return INTAKE_IMAGE_NONE;
	}
	return actual;
}

static json_t *removed_json(unsigned removed)
{
	json_t *a = json_array();
	if (removed & INTAKE_IMAGE_REMOVED_EXIF)
		json_array_append_new(a, json_string("exif"));
	if (removed & INTAKE_IMAGE_REMOVED_XMP)
		json_array_append_new(a, json_string("xmp"));
	if (removed & INTAKE_IMAGE_REMOVED_TEXT)
		json_array_append_new(a, json_string("text"));
	if (removed & INTAKE_IMAGE_REMOVED_OTHER)
		json_array_append_new(a, json_string("other"));
	return a;
}

/* Inserts the photo as the case's next one, under the complaint's row lock so two uploads
 * cannot both take the last place; its number follows every photo the case ever had, deleted
 * ones too (photos.c), so a number never names two photos. Replies itself. */
static void attach_store(struct http_req *r, const char *cid, const char *by,
			 enum intake_image_type t, const unsigned char *img, size_t len,
			 unsigned removed)
{
	char lenbuf[24], maxbuf[24], *stripped = NULL;
	snprintf(lenbuf, sizeof(lenbuf), "%zu", len);
	snprintf(maxbuf, sizeof(maxbuf), "%lld", intake_cfg.attachments_per_complaint);
	json_t *rm = removed_json(removed);
	stripped = json_dumps(rm, JSON_COMPACT);
	const char *p[] = {cid,	  intake_image_mime(t), lenbuf, (const char *)img, by, stripped,
			   maxbuf};
	const int lengths[] = {0, 0, 0, (int)len, 0, 0, 0};
	const int formats[] = {0, 0, 0, 1, 0, 0, 0};
	PGresult *res = NULL;
	if (pg_begin(r->db) != 0)
		goto db_failed;
	/* clang-format off */
	res = pg_query_bin(r->db,
	    "WITH c AS (SELECT id, attachments_last_seq FROM complaints WHERE id = $1 FOR UPDATE), "
	    "dup AS (SELECT a.seq, false AS created FROM attachments a, c WHERE a.complaint_id = c.id "
	    "  AND a.sha256 = encode(sha256($4::bytea), 'hex')), "
	    "n AS (SELECT count(*) AS used, GREATEST(coalesce(max(seq), 0), "
	    "  max(c.attachments_last_seq)) + 1 AS next FROM c LEFT JOIN attachments a "
	    "  ON a.complaint_id = c.id), "
	    "ins AS (INSERT INTO attachments (complaint_id, seq, content_type, bytes, sha256, data, "
	    "  uploaded_by, stripped) SELECT c.id, n.next, $2, $3::int, encode(sha256($4::bytea), 'hex'), "
	    "  $4::bytea, $5, ARRAY(SELECT jsonb_array_elements_text($6::jsonb)) FROM c, n "
	    "  WHERE NOT EXISTS (SELECT 1 FROM dup) AND n.used < $7::int RETURNING seq, true AS created) "
	    "SELECT seq, created FROM ins UNION ALL SELECT seq, created FROM dup",
	    7, p, lengths, formats);
	/* clang-format on */
	if (!res)
		goto db_failed;
	if (PQntuples(res) == 0) {
		pg_rollback(r->db);
		char msg[96];
		snprintf(msg, sizeof(msg), "a complaint holds at most %lld photos",
			 intake_cfg.attachments_per_complaint);
		json_t *f = json_array();
		json_array_append_new(f, http_field("attachments", msg));
		http_reply_fields(r, 409, "too_many_attachments", f);
		goto out;
	}
	const char *seq = PQgetvalue(res, 0, 0);
	bool created = PQgetvalue(res, 0, 1)[0] == 't';
	if (created &&
	    pg_exec(r->db,
		    "INSERT INTO timeline (complaint_id, step, actor, detail) VALUES ($1, "
		    "'attachment_added', $2, jsonb_build_object('attachment', $3::int, "
		    "'content_type', $4::text))",
		    4, (const char *[]){cid, by, seq, intake_image_mime(t)}) != 0)
		goto db_failed;
	if (pg_commit(r->db) != 0)
		goto db_failed;
	http_reply_json(r, created ? 201 : 200,
			json_pack("{s:i, s:s, s:I, s:O, s:b}", "attachment", atoi(seq),
				  "content_type", intake_image_mime(t), "bytes", (json_int_t)len,
				  "metadata_removed", rm, "idempotent_replay", !created));
	goto out;
db_failed:
	http_reply_db_error(r);
out:
	PQclear(res);
	json_decref(rm);
	free(stripped);
}

void intake_post_attachment(struct http_req *r, void *arg)
{
	char cid[64], by[80], err[160];
	if (http_req_body_within(r, (size_t)intake_cfg.attachment_max_bytes) != 0)
		return;
	enum intake_image_type t = attach_type(r);
	if (t == INTAKE_IMAGE_NONE)
		return;
	if (attach_who(r, r->params[0], cid, sizeof(cid), by, sizeof(by)) != 0)
		return;
	unsigned char *img = NULL;
	size_t len = 0;
	unsigned removed = 0;
	if (intake_image_strip(t, (const unsigned char *)r->body, r->body_len, &img, &len, &removed,
			       err, sizeof(err)) != 0) {
		json_t *f = json_array();
		json_array_append_new(f, http_field("body", err));
		http_reply_fields(r, 422, "invalid_image", f);
		return;
	}
	attach_store(r, cid, by, t, img, len, removed);
	free(img);
}

/* Sends the stored bytes (hex text from PostgreSQL) as the image, inline, never sniffed. */
static void attach_send(struct http_req *r, PGresult *res)
{
	size_t len = 0;
	unsigned char *data = PQunescapeBytea((const unsigned char *)PQgetvalue(res, 0, 3), &len);
	if (!data) {
		http_reply_error(r, 500, "internal", "the stored photo could not be read");
		return;
	}
	enum intake_image_type t = intake_image_type_of_mime(PQgetvalue(res, 0, 2));
	snprintf(r->disposition, sizeof(r->disposition), "inline; filename=\"%.64s-%.8s.%s\"",
		 r->params[0], r->params[1], intake_image_ext(t));
	http_reply_bytes(r, 200, intake_image_mime(t), data, len);
	PQfreemem(data);
}

bool intake_attachment_seq(struct http_req *r, const char *problem)
{
	char *end = NULL;
	long seq = strtol(r->params[1], &end, 10);
	if (end && !*end && seq >= 1 && seq <= 1000)
		return true;
	http_reply_error(r, 404, "not_found", problem);
	return false;
}

void intake_staff_get_attachment(struct http_req *r, void *arg)
{
	struct auth_principal who;
	if (auth_caller(r, &who) != 0)
		return;
	if (!intake_attachment_seq(r, "no such photo on this complaint"))
		return;
	PGresult *res = pg_query(
	    r->db,
	    "SELECT coalesce(c.owner_staff_id, ''), coalesce(c.entered_by, ''), a.content_type, "
	    "a.data FROM complaints c LEFT JOIN attachments a ON a.complaint_id = c.id AND "
	    "a.seq = $2::int WHERE c.complaint_no = $1",
	    2, (const char *[]){r->params[0], r->params[1]});
	if (!res) {
		http_reply_db_error(r);
		return;
	}
	if (PQntuples(res) == 0)
		http_reply_error(r, 404, "not_found", "no complaint with this number");
	else if (!intake_contact_entitled(&who, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1)))
		http_reply_error(r, 403, "not_entitled",
				 "only the people who handle this case see its photos");
	else if (PQgetisnull(res, 0, 2))
		http_reply_error(r, 404, "not_found", "no such photo on this complaint");
	else
		attach_send(r, res);
	PQclear(res);
}

/* The customer's own photo: the proof that opens the case (?token= or ?phone=; the last four
 * digits open no photo), then only a photo the customer uploaded. A case that does not exist
 * and a wrong proof get the same 404 (intake_customer_prove, throttled like the case view); a
 * number that is no photo of theirs gets a 404 too. The reply is the image inline, never
 * sniffed (X-Content-Type-Options), never kept by a shared cache (httpd: private, no-store). */
void intake_customer_get_attachment(struct http_req *r, void *arg)
{
	char cid[64];
	if (intake_customer_prove(r, r->params[0], cid, sizeof(cid)) != 0)
		return;
	if (!intake_attachment_seq(r, "no such photo of yours on this complaint"))
		return;
	/* the same columns as the staff query, so attach_send reads them alike */
	PGresult *res =
	    pg_query(r->db,
		     "SELECT '', '', a.content_type, a.data FROM attachments a WHERE "
		     "a.complaint_id = $1 AND a.seq = $2::int AND a.uploaded_by = 'customer'",
		     2, (const char *[]){cid, r->params[1]});
	if (!res)
		http_reply_db_error(r);
	else if (PQntuples(res) == 0)
		http_reply_error(r, 404, "not_found", "no such photo of yours on this complaint");
	else
		attach_send(r, res);
	PQclear(res);
}
