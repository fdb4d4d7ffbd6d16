-- followup: the owner's casework (messages, logged calls, closing with a reason, reopening),
-- the conversation staff read, and what the people-based figures need (offer, accept, first
-- real contact, person-confirmed verification, the policy limits, the waybill for FCR).
SET LOCAL ROLE followup;
SET LOCAL search_path = followup, public;

ALTER TABLE cases
  ADD COLUMN waybill_no            text NOT NULL DEFAULT '',
  ADD COLUMN previous_complaint_id uuid,
  ADD COLUMN description           text NOT NULL DEFAULT '',  -- redacted by intake
  ADD COLUMN preferred_contact     text NOT NULL DEFAULT '',
  ADD COLUMN offered_at            timestamptz,
  ADD COLUMN first_contact_at      timestamptz,                -- a person's first real contact
  ADD COLUMN first_contact_by      text NOT NULL DEFAULT '',
  ADD COLUMN verified_at           timestamptz,                -- responsibility confirmed by a person
  ADD COLUMN first_response_s      int NOT NULL DEFAULT 0,     -- the policy's limits (0: not run)
  ADD COLUMN accept_s              int NOT NULL DEFAULT 0,
  ADD COLUMN verification_s        int NOT NULL DEFAULT 0,
  -- the executed plan was decided by a person (approved or amended by staff); only then is
  -- the customer surveyed and may survey silence close the case
  ADD COLUMN decided_by_person     boolean NOT NULL DEFAULT false,
  -- service, attitude and pricing complaints: a person answers before any survey or closure
  ADD COLUMN needs_person_answer   boolean NOT NULL DEFAULT false,
  ADD COLUMN next_update_by        timestamptz,
  ADD COLUMN closed_by             text NOT NULL DEFAULT '',
  ADD COLUMN merged_into           text NOT NULL DEFAULT '',
  ADD COLUMN close_note            text NOT NULL DEFAULT '';
CREATE INDEX cases_waybill ON cases (waybill_no, received_at) WHERE waybill_no <> '';
CREATE INDEX cases_previous ON cases (previous_complaint_id) WHERE previous_complaint_id IS NOT NULL;

-- Who sent a message: '' for the automatic steps, else the staff id.
ALTER TABLE notifications ADD COLUMN sent_by text NOT NULL DEFAULT '';

-- Where a customer's words came from: followup's reply link, or intake (reply, repeat).
ALTER TABLE messages ADD COLUMN source text NOT NULL DEFAULT 'followup';

-- Phone calls logged by staff; only a reached call is a contact.
CREATE TABLE calls (
  id             bigserial PRIMARY KEY,
  complaint_id   uuid NOT NULL,
  staff_id       text NOT NULL,
  outcome        text NOT NULL CHECK (outcome IN ('reached', 'no_answer', 'voicemail', 'wrong_number')),
  summary        text NOT NULL,          -- phone-like digit runs removed
  next_update_by timestamptz,
  at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX calls_case ON calls (complaint_id, id);

-- A staff message from the case renders {text}; the closing wordings per reason carry the
-- appeal notice where the customer may still disagree; a reopening by staff is not an
-- escalation.
INSERT INTO templates (step, language, body) VALUES
  ('contact', 'zh-CN', '{text}'),
  ('contact', 'en', '{text}'),
  ('update_promised', 'zh-CN', '您的投诉 {complaint_no} 正在处理中，我们会在 {next_update_by} 前给您最新进展。'),
  ('update_promised', 'en', 'We are working on complaint {complaint_no} and will update you by {next_update_by}.'),
  ('closed_no_fault_found', 'zh-CN', '投诉 {complaint_no} 经核实未发现我方责任，现已结案。{appeal}'),
  ('closed_no_fault_found', 'en', 'We checked complaint {complaint_no} and found no fault on our side; it is closed. {appeal}'),
  ('closed_withdrawn', 'zh-CN', '投诉 {complaint_no} 已按您的要求撤销。如有需要，欢迎再次联系我们。'),
  ('closed_withdrawn', 'en', 'Complaint {complaint_no} has been withdrawn as you asked. Contact us again any time.'),
  ('closed_duplicate', 'zh-CN', '投诉 {complaint_no} 与投诉 {merged_into} 为同一问题，已合并，我们将在 {merged_into} 中继续为您处理。'),
  ('closed_duplicate', 'en', 'Complaint {complaint_no} is about the same matter as complaint {merged_into}; we merged them and continue under {merged_into}.'),
  ('reopened_by_staff', 'zh-CN', '投诉 {complaint_no} 已重新打开，负责人会尽快联系您。'),
  ('reopened_by_staff', 'en', 'Complaint {complaint_no} has been reopened; the person handling it will contact you soon.')
ON CONFLICT (step, language) DO NOTHING;
