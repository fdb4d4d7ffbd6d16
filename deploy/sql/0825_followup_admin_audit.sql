-- followup: the audit trail of an operator's changes to followup's own tables through the admin API
-- (common/audit.c writes it in the same transaction as the change).
SET LOCAL ROLE followup;
SET LOCAL search_path = followup, public;

CREATE TABLE admin_audit (
  id      bigserial PRIMARY KEY,
  at      timestamptz NOT NULL DEFAULT now(),
  actor   text NOT NULL,          -- the admin's staff id
  entity  text NOT NULL,          -- the table, e.g. sla_policies
  key     text NOT NULL DEFAULT '', -- the row ('' for a whole-table replacement)
  before  jsonb,                  -- NULL: the row was added
  after   jsonb                   -- NULL: the row was removed
);
CREATE INDEX admin_audit_by_entity ON admin_audit (entity, key, id);
