-- evidence: who may confirm a complaint's responsibility besides supervisors and admins (its
-- owner, the staff id of the latest cp.complaint.assigned) and who never may (the staff member
-- the complaint is about, from cp.complaint.classified's target). A projection of events only:
-- evidence reads no other service's schema.
SET LOCAL ROLE evidence;
SET LOCAL search_path = evidence, public;

CREATE TABLE case_people (
  complaint_id    uuid PRIMARY KEY,
  owner_staff_id  text NOT NULL DEFAULT '',
  target_kind     text NOT NULL DEFAULT '',
  target_id       text NOT NULL DEFAULT '',
  updated_at      timestamptz NOT NULL DEFAULT now()
);
