-- classification: conflict of interest and the escalation level a case reached.
SET LOCAL ROLE classification;
SET LOCAL search_path = classification, public;

-- Staff who must never handle a complaint: the person it is about (target, kind courier or
-- agent) and the courier the evidence names as responsible. Never offered, assigned,
-- escalated to, accepting or deciding. No foreign key to assignments: the evidence may
-- arrive before the received complaint is routed, and the exclusion must already hold then.
CREATE TABLE excluded_staff (
  complaint_id uuid NOT NULL,
  staff_id     text NOT NULL,
  reason       text NOT NULL CHECK (reason IN ('target', 'responsible_courier')),
  added_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (complaint_id, staff_id)
);

-- 0: not escalated; 1 outlet manager, 2 regional supervisor, 3 HQ.
ALTER TABLE assignments ADD COLUMN escalation_level integer NOT NULL DEFAULT 0;
