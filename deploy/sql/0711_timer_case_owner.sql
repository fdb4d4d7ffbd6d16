-- timer: the case's owner as the assignments tell it (cp.complaint.assigned owner_staff_id),
-- so that an offer to a case that lost its owner after an acceptance (conflict of interest:
-- the case is taken from the person and offered again) starts a new accept round.
SET LOCAL ROLE timer;
SET LOCAL search_path = timer, public;

ALTER TABLE cases ADD COLUMN owner_staff_id text NOT NULL DEFAULT '';
