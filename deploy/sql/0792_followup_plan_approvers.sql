-- followup: the person the case's latest escalation named (cp.complaint.escalated
-- staff_ids[0]) supervises it from then on and is told of a plan waiting for approval;
-- staff texts of the two new staff notifications (issue 9).
SET LOCAL ROLE followup;
SET LOCAL search_path = followup, public;

ALTER TABLE cases ADD COLUMN escalated_staff_id text NOT NULL DEFAULT '';

INSERT INTO templates (step, language, body) VALUES
  ('staff_plan_approval', 'zh-CN', '投诉 {complaint_no} 的处理方案待您审批：{text}'),
  ('staff_plan_approval', 'en', 'The plan for complaint {complaint_no} waits for your approval: {text}'),
  ('staff_evidence_overdue', 'zh-CN', '投诉 {complaint_no} 的取证请求已超时未回复（{text}），已提醒网点。'),
  ('staff_evidence_overdue', 'en', 'An evidence request on complaint {complaint_no} is overdue ({text}); the facility was reminded.')
ON CONFLICT DO NOTHING;
