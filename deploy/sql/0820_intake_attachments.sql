-- intake: photos attached to a complaint (POST /v1/complaints/{no}/attachments), stored in
-- PostgreSQL next to the case so they share its durability, backups and access rules and
-- every intake instance sees them. Only JPEG, PNG and WebP, already without their metadata
-- (services/intake/image.c); `stripped` records what was removed.
SET LOCAL ROLE intake;
SET LOCAL search_path = intake, public;

CREATE TABLE attachments (
  complaint_id uuid NOT NULL REFERENCES complaints (id),
  seq          integer NOT NULL CHECK (seq > 0),
  content_type text NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png', 'image/webp')),
  bytes        integer NOT NULL CHECK (bytes > 0),
  sha256       text NOT NULL,
  data         bytea NOT NULL,
  stripped     text[] NOT NULL DEFAULT '{}',
  uploaded_by  text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (complaint_id, seq),
  UNIQUE (complaint_id, sha256)
);
-- the images are compressed already: keep PostgreSQL from trying again
ALTER TABLE attachments ALTER COLUMN data SET STORAGE EXTERNAL;
