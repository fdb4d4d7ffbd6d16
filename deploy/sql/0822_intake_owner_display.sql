-- intake: who handles the case as the customer sees it -- the owner's first name and role from
-- cp.complaint.assigned (never the full name, the staff id or a contact).
SET LOCAL ROLE intake;
SET LOCAL search_path = intake, public;

ALTER TABLE complaints
  ADD COLUMN owner_first_name text NOT NULL DEFAULT '',
  ADD COLUMN owner_role       text NOT NULL DEFAULT '';
