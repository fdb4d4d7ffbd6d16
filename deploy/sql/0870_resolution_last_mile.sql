-- resolution: the remedies for a parcel handed over the way the 快递市场管理办法 forbids since
-- 1 March 2024: left in a locker or station without the customer's consent (不告而投,
-- unconsented_locker_station) or signed for by someone the addressee did not authorise (代签,
-- proxy_signed). When the carrier is liable and the customer does not say the goods are gone,
-- the plan is the door-delivery promise, this coupon and the apology; a customer who says the
-- goods are gone (compensation or reship demanded) is paid as for a loss. Operator data: 0
-- proposes no coupon.
SET LOCAL ROLE resolution;
SET LOCAL search_path = resolution, public;

ALTER TABLE compensation_policies
  ADD COLUMN last_mile_coupon_fen bigint NOT NULL DEFAULT 0 CHECK (last_mile_coupon_fen >= 0);
UPDATE compensation_policies SET last_mile_coupon_fen = 500 WHERE carrier = 'default';
UPDATE compensation_policies SET last_mile_coupon_fen = 1000 WHERE carrier = 'EMS';
