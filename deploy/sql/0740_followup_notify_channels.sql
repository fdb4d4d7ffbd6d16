-- followup: notifications on real channels. The customer's preferred contact chooses the
-- gateway (sms, email, app; phone and wechat fall back to sms), staff are told on the staff
-- app, and each row keeps the receiver's answer.
SET LOCAL ROLE followup;
SET LOCAL search_path = followup, public;

-- also added by the casework migration; either may come first in a database built before both
ALTER TABLE cases ADD COLUMN IF NOT EXISTS preferred_contact text NOT NULL DEFAULT '';

-- event_id: the event a staff notification was made from (one offer, escalation or clock
-- event names several people, and each is told once per event); '' for the customer's steps.
-- response_status / response_excerpt: the receiver's last answer (NULL: none came).
-- status gains "logged": written by the file adapter, which no receiver acknowledged.
ALTER TABLE notifications
  ADD COLUMN event_id         text NOT NULL DEFAULT '',
  ADD COLUMN response_status  int,
  ADD COLUMN response_excerpt text NOT NULL DEFAULT '';
ALTER TABLE notifications DROP CONSTRAINT notifications_complaint_id_step_round_key;
CREATE UNIQUE INDEX notifications_once ON notifications (complaint_id, recipient, step, round, event_id);

-- Staff texts: the complaint number and what happened, never the customer's name or phone.
INSERT INTO templates (step, language, body) VALUES
  ('staff_offered', 'zh-CN', '新投诉 {complaint_no} 待您接单，请尽快处理。'),
  ('staff_offered', 'en', 'New complaint {complaint_no} is offered to you: accept it to own the case.'),
  ('staff_assigned', 'zh-CN', '投诉 {complaint_no} 已由您负责跟进。'),
  ('staff_assigned', 'en', 'Complaint {complaint_no} is yours now.'),
  ('staff_transferred', 'zh-CN', '投诉 {complaint_no} 已转交给您负责，原因：{text}'),
  ('staff_transferred', 'en', 'Complaint {complaint_no} was transferred to you. Reason: {text}'),
  ('staff_escalated', 'zh-CN', '投诉 {complaint_no} 已升级至您处理，原因：{text}'),
  ('staff_escalated', 'en', 'Complaint {complaint_no} was escalated to you. Reason: {text}'),
  ('staff_sla_warning', 'zh-CN', '投诉 {complaint_no} 的 {text} 时限即将到期。'),
  ('staff_sla_warning', 'en', 'Complaint {complaint_no}: the {text} clock is about to run out.'),
  ('staff_sla_breach', 'zh-CN', '投诉 {complaint_no} 的 {text} 时限已超时。'),
  ('staff_sla_breach', 'en', 'Complaint {complaint_no}: the {text} clock is breached.')
ON CONFLICT (step, language) DO NOTHING;

-- the owner reads what the customer wrote, not only that they wrote (unless an operator
-- changed the wording already)
UPDATE templates SET body = '客户在投诉 {complaint_no} 上回复：{text}'
 WHERE step = 'customer_replied' AND language = 'zh-CN' AND updated_by = 'seed';
UPDATE templates SET body = 'The customer replied on complaint {complaint_no}: {text}'
 WHERE step = 'customer_replied' AND language = 'en' AND updated_by = 'seed';
