-- evidence: the recipient a carrier's tracking feed names for a parcel (issue 9), so that a
-- stuck parcel's proactive case can tell them of the delay before they complain. Only the
-- pseudonym is kept (customer_ref: HMAC of the phone's digits under the pseudonym key, as
-- intake keeps complainants; the carrier's gateways resolve it), never a phone number; the
-- column is named like every other customer_ref so `cp-admin pseudonyms rekey` moves it too.
-- Kept as long as the parcel's scans (RETENTION_DAYS after its last update).
SET LOCAL ROLE evidence;
SET LOCAL search_path = evidence, public;

CREATE TABLE parcel_recipients (
  waybill_no   text PRIMARY KEY,
  customer_ref text NOT NULL CHECK (customer_ref ~ '^cust_[0-9a-f]{24}$'),
  language     text NOT NULL DEFAULT 'zh-CN' CHECK (language IN ('zh-CN', 'en')),
  contact      text NOT NULL DEFAULT 'sms',
  updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX parcel_recipients_age ON parcel_recipients (updated_at);
