-- followup: a staff member whose offer lapsed (the case was offered again to others) is told,
-- so nobody opens a dead offer.
SET LOCAL ROLE followup;
SET LOCAL search_path = followup, public;

INSERT INTO templates (step, language, body) VALUES
  ('staff_offer_expired', 'zh-CN', '投诉 {complaint_no} 的接单邀请已过期，已转给其他同事。'),
  ('staff_offer_expired', 'en', 'Your offer of complaint {complaint_no} expired; it was offered to colleagues.')
ON CONFLICT (step, language) DO NOTHING;
