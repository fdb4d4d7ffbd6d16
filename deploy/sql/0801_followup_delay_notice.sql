-- followup: a stuck parcel's recipient is told of the delay and its reason before they
-- complain (issue 9). {text} is where the parcel stands, for how long and why (fu_delay_text,
-- in the recipient's language); {complaint_no} the proactive case that follows it up.
SET LOCAL ROLE followup;
SET LOCAL search_path = followup, public;

INSERT INTO templates (step, language, body) VALUES
  ('delay_notice', 'zh-CN', '【主动告知】{text}我们已为您主动登记跟进单 {complaint_no}，专人正在处理，有进展会及时通知您，您无需另行投诉。'),
  ('delay_notice', 'en', 'Proactive notice: {text} We have opened case {complaint_no} for you; a person is on it and will keep you informed. There is no need to complain.')
ON CONFLICT (step, language) DO NOTHING;
