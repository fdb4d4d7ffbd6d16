-- resolution: remedy proposals for each complaint.
SET LOCAL ROLE resolution;
SET LOCAL search_path = resolution, public;
SELECT public.cp_create_messaging('resolution');

CREATE TABLE proposals (
  id              uuid PRIMARY KEY,
  complaint_id    uuid NOT NULL,
  complaint_no    text NOT NULL,
  status          text NOT NULL,
  remedies        jsonb NOT NULL,
  total_fen       bigint NOT NULL DEFAULT 0,
  responsible_party text NOT NULL DEFAULT 'unknown',
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX proposals_one_open ON proposals (complaint_id)
  WHERE status NOT IN ('rejected', 'superseded');
