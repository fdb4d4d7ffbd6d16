-- intake: photos are deleted -- by a person, one at a time with a reason (DELETE
-- /v1/staff/complaints/{no}/attachments/{n}, audited in intake.admin_audit), and by the
-- retention sweep PHOTO_RETENTION_SECONDS after their case closed (services/intake/photos.c).
SET LOCAL ROLE intake;
SET LOCAL search_path = intake, public;

-- When the sweep last emptied the case of photos; NULL again as soon as a photo is added (the
-- trigger below), so a case re-enters the sweep's index only when it has something to purge.
ALTER TABLE complaints ADD COLUMN photos_swept_at timestamptz;
-- The highest photo number a deleted photo had: a photo added later gets a new number, never
-- the number of one that is gone (a link or a timeline line names photos by number).
ALTER TABLE complaints ADD COLUMN attachments_last_seq integer NOT NULL DEFAULT 0;

-- The sweep's work list: closed cases not swept since they closed, oldest closure first. A
-- swept case leaves the index, so its size is the closed cases still holding photos (or not
-- yet looked at), not the whole history.
CREATE INDEX complaints_photos_to_sweep ON complaints (closed_at)
  WHERE closed_at IS NOT NULL AND photos_swept_at IS NULL;

CREATE FUNCTION attachments_unswept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE complaints SET photos_swept_at = NULL
   WHERE id = NEW.complaint_id AND photos_swept_at IS NOT NULL;
  RETURN NULL;
END $$;
CREATE TRIGGER attachments_unswept AFTER INSERT ON attachments
  FOR EACH ROW EXECUTE FUNCTION attachments_unswept();
