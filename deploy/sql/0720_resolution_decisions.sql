-- resolution: a plan executes only on a decision. The system still proposes at once, but a
-- person with enough authority accepts or approves the plan, or an operator's auto-settlement
-- rule (none enabled by default) matches all of its conditions. A compensation ledger per
-- waybill caps what is paid across every complaint about one parcel.
SET LOCAL ROLE resolution;
SET LOCAL search_path = resolution, public;

-- Who may decide (the owner from cp.complaint.assigned) and who never may (the target of
-- cp.complaint.classified, the courier the evidence names), and how firm the evidence is.
ALTER TABLE cases
  ADD COLUMN owner_staff_id    text NOT NULL DEFAULT '',
  ADD COLUMN target_kind       text NOT NULL DEFAULT '',
  ADD COLUMN target_id         text NOT NULL DEFAULT '',
  ADD COLUMN resp_preliminary  boolean NOT NULL DEFAULT true,
  ADD COLUMN resp_conclusive   boolean NOT NULL DEFAULT false,
  ADD COLUMN resp_confirmed_by text NOT NULL DEFAULT '';

-- The system has no authority of its own any more: nothing it proposes executes by itself.
DELETE FROM authority_limits WHERE role = 'auto';

-- status: proposed, pending_approval, executing, executed, failed, rejected, reopened.
-- accepted_by: the person who accepted the plan (never its approver); ledger_cap_fen: the most
-- the waybill's complaints may be paid for this loss, already_paid_fen: what other plans had
-- paid on the waybill when this one was proposed.
ALTER TABLE proposals
  ADD COLUMN waybill_no       text NOT NULL DEFAULT '',
  ADD COLUMN accepted_by      text,
  ADD COLUMN ledger_cap_fen   bigint NOT NULL DEFAULT 0 CHECK (ledger_cap_fen >= 0),
  ADD COLUMN already_paid_fen bigint NOT NULL DEFAULT 0 CHECK (already_paid_fen >= 0);
UPDATE proposals p SET waybill_no = k.waybill_no,
  ledger_cap_fen = (SELECT coalesce(sum((x->>'amount_fen')::bigint), 0)
                    FROM jsonb_array_elements(p.remedies) x
                    WHERE x->>'kind' IN ('compensation', 'freight_refund', 'freight_waiver'))
  FROM cases k WHERE k.complaint_id = p.complaint_id;
CREATE INDEX proposals_waybill ON proposals (waybill_no) WHERE waybill_no <> '';

-- The ledger: every payout carries its waybill.
ALTER TABLE executions ADD COLUMN waybill_no text NOT NULL DEFAULT '';
UPDATE executions e SET waybill_no = p.waybill_no FROM proposals p WHERE p.id = e.proposal_id;
CREATE INDEX executions_ledger ON executions (waybill_no)
  WHERE kind = 'payout' AND status IN ('requested', 'confirmed');

-- Auto-settlement rules: operator data. A rule settles a proposed plan only when ALL hold:
-- the responsibility is confirmed by a person or conclusive from tracking, the total is within
-- max_fen, the case's "category/subcategory" (or its whole "category") is listed, every remedy
-- kind is listed, and no payout was requested or made on the waybill before.
CREATE TABLE auto_settlement_rules (
  name          text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{0,47}$'),
  enabled       boolean NOT NULL DEFAULT false,
  categories    text[] NOT NULL,
  max_fen       bigint NOT NULL CHECK (max_fen >= 0),
  remedy_kinds  text[] NOT NULL,
  description   text NOT NULL DEFAULT '',
  updated_by    text NOT NULL DEFAULT 'migration',
  updated_at    timestamptz NOT NULL DEFAULT now()
);
INSERT INTO auto_settlement_rules (name, enabled, categories, max_fen, remedy_kinds, description)
VALUES ('delay_proven_by_scans', false, '{transport/delay}', 2000, '{freight_waiver,apology}',
        'a delay the scans prove (delivered after promised_by, no force-majeure cause): '
        'the freight waived, up to 20 CNY, with an apology');

-- Every change of a rule: who, when, before and after.
CREATE TABLE auto_settlement_rule_audit (
  id      bigserial PRIMARY KEY,
  name    text NOT NULL,
  at      timestamptz NOT NULL DEFAULT now(),
  actor   text NOT NULL,
  before  jsonb,
  after   jsonb NOT NULL
);
