-- classification: the escalation ladder (outlet manager, regional supervisor, HQ) and the SLA
-- breaches already turned into escalations.
SET LOCAL ROLE classification;
SET LOCAL search_path = classification, public;

-- Roles on the ladder join the registry. region_id: for outlet staff, the region their outlet
-- belongs to (the manager's row decides when staff rows disagree); for a regional supervisor,
-- the region they supervise. Operator data: PUT /v1/staff-registry/{id}.
ALTER TABLE staff DROP CONSTRAINT staff_role_check;
ALTER TABLE staff
  ADD CONSTRAINT staff_role_check
    CHECK (role IN ('agent', 'courier', 'outlet_manager', 'regional_supervisor', 'hq')),
  ADD COLUMN region_id text;
CREATE INDEX staff_by_region ON staff (region_id, role);

-- One escalation per (complaint, clock, level): the timer may deliver a breach twice.
CREATE TABLE sla_escalations (
  complaint_id uuid NOT NULL,
  clock        text NOT NULL,
  level        integer NOT NULL,
  staff_id     text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (complaint_id, clock, level)
);
