-- classification: the admin audit is read through GET /v1/admin/audit/classification (common/audit.c), newest
-- first in keyset pages, filtered by time, entity or actor: an index for each of those orders.
-- A change may carry the reason a person gave for it (NULL for the changes recorded so far).
SET LOCAL ROLE classification;
SET LOCAL search_path = classification, public;

ALTER TABLE admin_audit ADD COLUMN reason text;
CREATE INDEX admin_audit_by_time ON admin_audit (at DESC, id DESC);
CREATE INDEX admin_audit_by_entity_time ON admin_audit (entity, at DESC, id DESC);
CREATE INDEX admin_audit_by_actor_time ON admin_audit (actor, at DESC, id DESC);
