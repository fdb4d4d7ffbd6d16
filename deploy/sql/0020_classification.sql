-- classification: the classification of each complaint.
SET LOCAL ROLE classification;
SET LOCAL search_path = classification, public;
SELECT public.cp_create_messaging('classification');

CREATE TABLE classifications (
  complaint_id   uuid PRIMARY KEY,
  complaint_no   text NOT NULL,
  waybill_no     text NOT NULL,
  customer_ref   text NOT NULL,
  category       text NOT NULL,
  subcategory    text NOT NULL,
  stated_type    text NOT NULL,
  keywords       text[] NOT NULL DEFAULT '{}',
  choice_reason  text NOT NULL DEFAULT '',
  urgency        text NOT NULL,
  severity       text NOT NULL,
  tier           text NOT NULL,
  priority       integer NOT NULL,
  sla_policy     text NOT NULL,
  language       text NOT NULL,
  classified_at  timestamptz NOT NULL DEFAULT now()
);
