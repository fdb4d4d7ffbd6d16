-- followup: what the customer is told, step by step (one message per step).
SET LOCAL ROLE followup;
SET LOCAL search_path = followup, public;
SELECT public.cp_create_messaging('followup');

CREATE TABLE notifications (
  id            bigserial PRIMARY KEY,
  complaint_id  uuid NOT NULL,
  complaint_no  text NOT NULL,
  step          text NOT NULL,
  language      text NOT NULL DEFAULT 'zh-CN',
  body          text NOT NULL,
  status        text NOT NULL DEFAULT 'queued',
  created_at    timestamptz NOT NULL DEFAULT now(),
  delivered_at  timestamptz,
  UNIQUE (complaint_id, step)
);
