-- resolution: remedy proposals, compensation policy, authority levels, approvals, execution.
SET LOCAL ROLE resolution;
SET LOCAL search_path = resolution, public;
SELECT public.cp_create_messaging('resolution');

-- Projection of cp.complaint.classified and cp.complaint.evidence_collected: the facts a
-- proposal is made from. Either may arrive first (different topics).
CREATE TABLE cases (
  complaint_id       uuid PRIMARY KEY,
  complaint_no       text NOT NULL,
  waybill_no         text NOT NULL DEFAULT '',
  customer_ref       text NOT NULL DEFAULT '',
  language           text NOT NULL DEFAULT 'zh-CN',
  classified         boolean NOT NULL DEFAULT false,
  category           text NOT NULL DEFAULT '',
  subcategory        text NOT NULL DEFAULT '',
  tier               text NOT NULL DEFAULT 'standard',
  demand             text[] NOT NULL DEFAULT '{}',
  goods              text[] NOT NULL DEFAULT '{}',
  perishable         boolean NOT NULL DEFAULT false,
  insured            boolean NOT NULL DEFAULT false,
  insured_value_fen  bigint NOT NULL DEFAULT 0,
  declared_value_fen bigint NOT NULL DEFAULT 0,
  freight_fen        bigint NOT NULL DEFAULT 0,
  outlet_id          text NOT NULL DEFAULT '',
  evidence_collected boolean NOT NULL DEFAULT false,
  evidence_version   int NOT NULL DEFAULT 0,
  party              text NOT NULL DEFAULT 'unknown',
  party_id           text NOT NULL DEFAULT '',
  stage              text NOT NULL DEFAULT 'unknown',
  locatable          boolean NOT NULL DEFAULT false,
  updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cases_no ON cases (complaint_no);

-- Compensation policy per carrier (waybill prefix letters); 'default' when none matches.
CREATE TABLE compensation_policies (
  carrier              text PRIMARY KEY,
  freight_multiple     bigint NOT NULL CHECK (freight_multiple >= 0),
  declared_ceiling_fen bigint NOT NULL CHECK (declared_ceiling_fen >= 0),
  damage_loss_pct      bigint NOT NULL CHECK (damage_loss_pct BETWEEN 0 AND 100),
  delay_remedy         text NOT NULL CHECK (delay_remedy IN ('freight_waiver', 'coupon')),
  delay_coupon_fen     bigint NOT NULL CHECK (delay_coupon_fen >= 0),
  vip_coupon_fen       bigint NOT NULL CHECK (vip_coupon_fen >= 0),
  description          text NOT NULL DEFAULT ''
);
INSERT INTO compensation_policies VALUES
  ('default', 3, 2000000, 100, 'freight_waiver', 500, 0,
   'uninsured: actual loss up to 3x freight and 20,000 CNY; delay: freight waived'),
  ('EMS', 7, 500000, 100, 'coupon', 1000, 2000,
   'uninsured: actual loss up to 7x freight and 5,000 CNY; delay: coupon');

-- Authority levels: the largest total (fen) each role may grant without approval. 'auto' is
-- the system's own proposal.
CREATE TABLE authority_limits (
  role      text PRIMARY KEY,
  max_fen   bigint NOT NULL CHECK (max_fen >= 0)
);
INSERT INTO authority_limits VALUES
  ('auto', 20000), ('agent', 20000), ('supervisor', 200000), ('admin', 100000000);

CREATE TABLE proposals (
  id              uuid PRIMARY KEY,
  complaint_id    uuid NOT NULL,
  complaint_no    text NOT NULL,
  -- pending_approval, executing, executed, failed, rejected, superseded
  status          text NOT NULL,
  remedies        jsonb NOT NULL,
  total_fen       bigint NOT NULL DEFAULT 0 CHECK (total_fen >= 0),
  rule            text NOT NULL DEFAULT '',
  responsible_party text NOT NULL DEFAULT 'unknown',
  proposed_by     text NOT NULL DEFAULT 'system',
  approved_by     text,
  reason          text NOT NULL DEFAULT '',
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX proposals_one_open ON proposals (complaint_id)
  WHERE status NOT IN ('rejected', 'superseded');
CREATE INDEX proposals_no ON proposals (complaint_no);

-- Every change of a proposal: who, what, why, before and after.
CREATE TABLE proposal_audit (
  id           bigserial PRIMARY KEY,
  proposal_id  uuid NOT NULL REFERENCES proposals (id),
  at           timestamptz NOT NULL DEFAULT now(),
  actor        text NOT NULL,
  action       text NOT NULL,   -- proposed, amended, approved, rejected, executed, failed
  reason       text NOT NULL DEFAULT '',
  before       jsonb,
  after        jsonb
);
CREATE INDEX proposal_audit_proposal ON proposal_audit (proposal_id, id);

-- Who pays when the responsibility lies with a franchise outlet or partner.
CREATE TABLE chargebacks (
  proposal_id  uuid PRIMARY KEY REFERENCES proposals (id),
  complaint_id uuid NOT NULL,
  party        text NOT NULL,
  party_id     text NOT NULL,
  amount_fen   bigint NOT NULL CHECK (amount_fen >= 0),
  created_at   timestamptz NOT NULL DEFAULT now()
);

-- Payout (finance) and reship (shipping) requests and their confirmations.
CREATE TABLE executions (
  id           uuid PRIMARY KEY,
  proposal_id  uuid NOT NULL REFERENCES proposals (id),
  complaint_id uuid NOT NULL,
  kind         text NOT NULL CHECK (kind IN ('payout', 'reship')),
  amount_fen   bigint NOT NULL DEFAULT 0,
  status       text NOT NULL DEFAULT 'requested', -- requested, confirmed, failed, superseded
  reason       text NOT NULL DEFAULT '',
  reference    text NOT NULL DEFAULT '',
  created_at   timestamptz NOT NULL DEFAULT now(),
  settled_at   timestamptz
);
CREATE INDEX executions_proposal ON executions (proposal_id);
