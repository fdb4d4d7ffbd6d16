-- classification: a proactive case (intake opens it from cp.parcel.stuck before anyone
-- complains, channel 'proactive') runs on its own SLA policy, whatever its text reads like.
-- channel_policies is operator data: a channel named here takes the named policy first; a
-- name that no longer exists in sla_policies (a PUT /v1/sla-policies that dropped it) falls
-- back to the ordinary choice by category, urgency and tier.
SET LOCAL ROLE classification;
SET LOCAL search_path = classification, public;

CREATE TABLE channel_policies (
  channel    text PRIMARY KEY,
  policy     text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Nobody is waiting on the phone yet: the first contact (telling the recipient of the delay)
-- may take 30 minutes, the facility has an hour to find the parcel, four to resolve it.
INSERT INTO sla_policies (name, rank, category, subcategory, urgency, tier, first_response_s,
                          verification_s, resolution_s, regulatory_s, pausable_clocks,
                          accept_s, whole_cycle_s) VALUES
('proactive', 45, 'proactive', NULL, NULL, NULL, 1800, 3600, 14400, 604800, '{resolution}',
 600, 86400)
ON CONFLICT (name) DO NOTHING;

INSERT INTO channel_policies (channel, policy) VALUES ('proactive', 'proactive')
ON CONFLICT (channel) DO NOTHING;
