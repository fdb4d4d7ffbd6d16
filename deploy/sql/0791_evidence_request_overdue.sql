-- evidence: an evidence request not answered by its due time reminds the facility once
-- (cp.complaint.evidence_request_overdue on complaint.evidence_request.v1); overdue_at marks
-- the reminder so a restart or a second instance never sends it twice.
SET LOCAL ROLE evidence;
SET LOCAL search_path = evidence, public;

ALTER TABLE requests ADD COLUMN overdue_at timestamptz;
CREATE INDEX requests_unanswered_due ON requests (due_at) WHERE answered_at IS NULL
  AND overdue_at IS NULL;
