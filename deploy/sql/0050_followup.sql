-- followup: what the customer is told (one message per step), surveys, closure, archive and
-- the projection the quality figures are computed from.
SET LOCAL ROLE followup;
SET LOCAL search_path = followup, public;
SELECT public.cp_create_messaging('followup');

-- One row per complaint, built from the events of every topic.
CREATE TABLE cases (
  complaint_id       uuid PRIMARY KEY,
  complaint_no       text NOT NULL,
  customer_ref       text NOT NULL DEFAULT '',
  language           text NOT NULL DEFAULT 'zh-CN',
  channel            text NOT NULL DEFAULT '',
  outlet_id          text NOT NULL DEFAULT '',
  category           text NOT NULL DEFAULT '',
  subcategory        text NOT NULL DEFAULT '',
  priority           int NOT NULL DEFAULT 3,
  owner_staff_id     text NOT NULL DEFAULT '',
  -- open, resolved (executed, waiting for the survey), reopened, closed
  status             text NOT NULL DEFAULT 'open',
  awaiting_customer  boolean NOT NULL DEFAULT false,
  is_repeat          boolean NOT NULL DEFAULT false,
  repeat_count       int NOT NULL DEFAULT 0,
  escalation_level   int NOT NULL DEFAULT 0,
  reopen_count       int NOT NULL DEFAULT 0,
  responsible_party  text NOT NULL DEFAULT '',
  compensation_fen   bigint NOT NULL DEFAULT 0,
  received_at        timestamptz,
  first_response_at  timestamptz,
  assigned_at        timestamptz,
  evidence_at        timestamptz,
  proposed_at        timestamptz,
  executed_at        timestamptz,
  survey_due_at      timestamptz,
  closed_at          timestamptz,
  close_reason       text,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX cases_no ON cases (complaint_no);
CREATE INDEX cases_received ON cases (received_at);
CREATE INDEX cases_survey_due ON cases (survey_due_at) WHERE status = 'resolved';

-- The case's event history (every event follow-up saw or wrote), archived at closure.
CREATE TABLE case_events (
  id           bigserial PRIMARY KEY,
  complaint_id uuid NOT NULL,
  ce_type      text NOT NULL,
  at           timestamptz NOT NULL DEFAULT now(),
  detail       jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX case_events_case ON case_events (complaint_id, id);

CREATE TABLE archives (
  complaint_id uuid PRIMARY KEY,
  complaint_no text NOT NULL,
  closed_at    timestamptz NOT NULL,
  close_reason text NOT NULL,
  timeline     jsonb NOT NULL,
  archived_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sla_events (
  id           bigserial PRIMARY KEY,
  complaint_id uuid NOT NULL,
  clock        text NOT NULL,
  kind         text NOT NULL,
  at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sla_events_case ON sla_events (complaint_id);

CREATE TABLE surveys (
  id           bigserial PRIMARY KEY,
  complaint_id uuid NOT NULL,
  round        int NOT NULL,
  score        int NOT NULL CHECK (score BETWEEN 1 AND 5),
  solved       boolean NOT NULL,
  comment      text NOT NULL DEFAULT '',
  answered_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (complaint_id, round)
);

-- Customer replies on the case (digit runs that look like phone numbers removed).
CREATE TABLE messages (
  id           bigserial PRIMARY KEY,
  complaint_id uuid NOT NULL,
  author       text NOT NULL,   -- customer, or staff:<id> for questions asked
  text         text NOT NULL,
  at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_case ON messages (complaint_id, id);

-- Operator-editable message templates. Placeholders: {complaint_no}, {owner}, {plan},
-- {survey_url}, {appeal}, {text}.
CREATE TABLE templates (
  step        text NOT NULL,
  language    text NOT NULL,
  body        text NOT NULL,
  updated_by  text NOT NULL DEFAULT 'seed',
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (step, language)
);
INSERT INTO templates (step, language, body) VALUES
  ('received', 'zh-CN', '您的投诉 {complaint_no} 已受理，我们会尽快处理。'),
  ('received', 'en', 'Your complaint {complaint_no} has been received; we are on it.'),
  ('first_response', 'zh-CN', '{text}'),
  ('first_response', 'en', '{text}'),
  ('owner_assigned', 'zh-CN', '投诉 {complaint_no} 已由专人 {owner} 负责跟进。'),
  ('owner_assigned', 'en', 'Complaint {complaint_no} is now handled by {owner}.'),
  ('evidence_found', 'zh-CN', '投诉 {complaint_no} 的核实已完成，正在制定解决方案。'),
  ('evidence_found', 'en', 'We have verified complaint {complaint_no} and are preparing a solution.'),
  ('plan_proposed', 'zh-CN', '投诉 {complaint_no} 的解决方案：{plan}。'),
  ('plan_proposed', 'en', 'Our solution for complaint {complaint_no}: {plan}.'),
  ('plan_executed', 'zh-CN', '投诉 {complaint_no} 的方案已执行。问题解决了吗？您满意吗？请评价：{survey_url}'),
  ('plan_executed', 'en', 'The solution for complaint {complaint_no} has been carried out. Solved - are you satisfied? Tell us: {survey_url}'),
  ('awaiting_customer', 'zh-CN', '为处理投诉 {complaint_no}，我们需要您补充信息：{text}'),
  ('awaiting_customer', 'en', 'To handle complaint {complaint_no} we need more information from you: {text}'),
  ('reopened', 'zh-CN', '投诉 {complaint_no} 已重新处理并升级，我们会尽快联系您。'),
  ('reopened', 'en', 'Complaint {complaint_no} has been reopened and escalated; we will contact you soon.'),
  ('closed', 'zh-CN', '投诉 {complaint_no} 已结案。{appeal}'),
  ('closed', 'en', 'Complaint {complaint_no} is closed. {appeal}'),
  ('appeal', 'zh-CN', '如对处理结果不满意，您可以向邮政管理局申诉（电话 12305 或 sswz.spb.gov.cn）。'),
  ('appeal', 'en', 'If you are not satisfied, you may appeal to the postal administration (邮政管理局, phone 12305 or sswz.spb.gov.cn).'),
  ('customer_replied', 'zh-CN', '客户在投诉 {complaint_no} 上回复了。'),
  ('customer_replied', 'en', 'The customer replied on complaint {complaint_no}.');

-- The notification outbox: one row per (case, step, round); a round is a reopening, or the
-- sequence number of a repeatable step (questions, replies). Delivered by the delivery task,
-- which renders the text again with the case's language and customer_ref as known then (the
-- received event may come after a later step's event: they travel on different topics).
CREATE TABLE notifications (
  id              bigserial PRIMARY KEY,
  complaint_id    uuid NOT NULL,
  complaint_no    text NOT NULL,
  customer_ref    text NOT NULL DEFAULT '',
  recipient       text NOT NULL DEFAULT 'customer',   -- customer, or staff:<id>
  step            text NOT NULL,
  round           int NOT NULL DEFAULT 0,
  language        text NOT NULL DEFAULT 'zh-CN',
  body            text NOT NULL,                      -- rendered again at delivery
  vars            jsonb NOT NULL DEFAULT '{}',        -- the template's variables
  status          text NOT NULL DEFAULT 'queued',     -- queued, delivered, failed
  channel         text NOT NULL DEFAULT '',
  attempts        int NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error      text NOT NULL DEFAULT '',
  created_at      timestamptz NOT NULL DEFAULT now(),
  delivered_at    timestamptz,
  UNIQUE (complaint_id, step, round)
);
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE status = 'queued';
