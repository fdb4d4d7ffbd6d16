-- classification: the name a customer may see for a member of staff (the first name only, or
-- the name they use at work), set by an admin in the staff registry. The owner's first name
-- and role travel in cp.complaint.assigned so the customer's status page can say who handles
-- the case without anyone's full name or contact.
SET LOCAL ROLE classification;
SET LOCAL search_path = classification, public;

ALTER TABLE staff ADD COLUMN first_name text NOT NULL DEFAULT ''
  CHECK (char_length(first_name) <= 20);
