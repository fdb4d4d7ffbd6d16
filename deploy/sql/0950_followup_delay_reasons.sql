-- followup: the carriers' delay reasons in the customer's words, as operator data. A tracking
-- feed names its exception with the carrier's own code (weather, a sorter's fault code, ...);
-- the proactive delay notice says why in words a customer understands, and each carrier has its
-- own codes, so the phrases are rows an admin edits (PUT /v1/delay-reasons, audited), not a
-- table compiled into the service. A code without a row reads as "being checked": a carrier's
-- internal code is never shown to a customer.
SET LOCAL ROLE followup;
SET LOCAL search_path = followup, public;

CREATE TABLE delay_reasons (
  code       text NOT NULL CHECK (code ~ '^[a-z0-9_]{1,40}$'),
  language   text NOT NULL CHECK (language IN ('zh-CN', 'en')),
  text       text NOT NULL CHECK (octet_length(text) BETWEEN 1 AND 400),
  updated_by text,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (code, language)
);

INSERT INTO delay_reasons (code, language, text) VALUES
  ('weather', 'zh-CN', '天气原因'),
  ('weather', 'en', 'bad weather'),
  ('traffic_control', 'zh-CN', '交通管制'),
  ('traffic_control', 'en', 'traffic control'),
  ('address_problem', 'zh-CN', '收件地址需要核实'),
  ('address_problem', 'en', 'the delivery address needs to be checked'),
  ('damaged_on_arrival', 'zh-CN', '到件时发现包装破损，正在处理'),
  ('damaged_on_arrival', 'en', 'damage found on arrival, being handled'),
  ('returned', 'zh-CN', '包裹正在退回'),
  ('returned', 'en', 'the parcel is being returned'),
  ('customs', 'zh-CN', '海关查验'),
  ('customs', 'en', 'a customs inspection'),
  ('recipient_unreachable', 'zh-CN', '无法联系到收件人'),
  ('recipient_unreachable', 'en', 'we could not reach the recipient');
