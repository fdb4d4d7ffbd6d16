-- intake: the audit trail of staff and admins' changes to intake's own data outside a case's
-- timeline (a photo deleted by hand, with the reason), like the other services' admin_audit
-- (0823-0826) and read the same way (GET /v1/admin/audit/intake, common/audit.c).
SET LOCAL ROLE intake;
SET LOCAL search_path = intake, public;

CREATE TABLE admin_audit (
  id      bigserial PRIMARY KEY,
  at      timestamptz NOT NULL DEFAULT now(),
  actor   text NOT NULL,            -- the staff id
  entity  text NOT NULL,            -- the table, e.g. attachments
  key     text NOT NULL DEFAULT '', -- the row
  before  jsonb,                    -- NULL: the row was added
  after   jsonb,                    -- NULL: the row was removed
  reason  text                      -- why, when the person had to say
);
CREATE INDEX admin_audit_by_entity ON admin_audit (entity, key, id);
-- the read API's keyset order (newest first) with and without its filters
CREATE INDEX admin_audit_by_time ON admin_audit (at DESC, id DESC);
CREATE INDEX admin_audit_by_entity_time ON admin_audit (entity, at DESC, id DESC);
CREATE INDEX admin_audit_by_actor_time ON admin_audit (actor, at DESC, id DESC);
