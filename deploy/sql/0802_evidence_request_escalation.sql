-- evidence: an evidence request still unanswered EVIDENCE_ESCALATE_AFTER_SECONDS after its
-- facility was reminded is escalated once (cp.complaint.evidence_request_escalated):
-- classification names the case owner's supervisor from the staff registry's ladder (issue 9).
-- escalated_at marks it so a restart or a second instance never escalates it twice.
SET LOCAL ROLE evidence;
SET LOCAL search_path = evidence, public;

ALTER TABLE requests ADD COLUMN escalated_at timestamptz;
CREATE INDEX requests_reminded_unanswered ON requests (overdue_at)
  WHERE answered_at IS NULL AND escalated_at IS NULL AND overdue_at IS NOT NULL;
