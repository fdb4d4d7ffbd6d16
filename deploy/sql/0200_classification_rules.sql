-- classification: the data an operator changes without a rebuild (keywords, SLA policies,
-- VIP customers, staff registry, first-response templates) and the projections and routing
-- state the service keeps (latest scan per waybill, assignments, offers).
SET LOCAL ROLE classification;
SET LOCAL search_path = classification, public;

-- Both readings of a complaint and the policy chosen.
ALTER TABLE classifications
  ADD COLUMN text_category    text NOT NULL DEFAULT '',
  ADD COLUMN text_subcategory text NOT NULL DEFAULT '',
  ADD COLUMN scenario         text NOT NULL DEFAULT '',
  ADD COLUMN outlet_id        text,
  ADD COLUMN first_response_s integer,
  ADD COLUMN verification_s   integer,
  ADD COLUMN resolution_s     integer,
  ADD COLUMN regulatory_s     integer,
  ADD COLUMN pausable_clocks  text[] NOT NULL DEFAULT '{}';
CREATE INDEX classifications_by_no ON classifications (complaint_no);

-- Keywords found in the free text. kind: category (points to category/subcategory), angry
-- (the customer's state), goods (urgent goods: medicine, fresh_food, documents). Keywords are
-- lowercase; ASCII keywords match whole words. GET/PUT /v1/keywords; the service reloads the
-- table when it changes (KEYWORD_RELOAD_MS).
CREATE TABLE keywords (
  keyword     text PRIMARY KEY,
  kind        text NOT NULL CHECK (kind IN ('category', 'angry', 'goods')),
  category    text,
  subcategory text,
  goods       text,
  weight      integer NOT NULL DEFAULT 2 CHECK (weight BETWEEN 1 AND 10),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- keywords:begin (one row per line: tests/unit/test_classification_cases.c reads them)
INSERT INTO keywords (keyword, kind, category, subcategory, goods, weight) VALUES
('破损', 'category', 'transport', 'damage', NULL, 2),
('压坏', 'category', 'transport', 'damage', NULL, 2),
('摔坏', 'category', 'transport', 'damage', NULL, 2),
('碎了', 'category', 'transport', 'damage', NULL, 2),
('损坏', 'category', 'transport', 'damage', NULL, 2),
('变形', 'category', 'transport', 'damage', NULL, 1),
('漏液', 'category', 'transport', 'damage', NULL, 2),
('damaged', 'category', 'transport', 'damage', NULL, 2),
('broken', 'category', 'transport', 'damage', NULL, 2),
('smashed', 'category', 'transport', 'damage', NULL, 2),
('crushed', 'category', 'transport', 'damage', NULL, 2),
('cracked', 'category', 'transport', 'damage', NULL, 2),
('延误', 'category', 'transport', 'delay', NULL, 2),
('延迟', 'category', 'transport', 'delay', NULL, 2),
('还没到', 'category', 'transport', 'delay', NULL, 2),
('还没送到', 'category', 'transport', 'delay', NULL, 2),
('太慢', 'category', 'transport', 'delay', NULL, 2),
('超时', 'category', 'transport', 'delay', NULL, 2),
('迟迟', 'category', 'transport', 'delay', NULL, 1),
('late', 'category', 'transport', 'delay', NULL, 2),
('delayed', 'category', 'transport', 'delay', NULL, 2),
('delay', 'category', 'transport', 'delay', NULL, 2),
('overdue', 'category', 'transport', 'delay', NULL, 2),
('not arrived', 'category', 'transport', 'delay', NULL, 2),
('still waiting', 'category', 'transport', 'delay', NULL, 1),
('丢失', 'category', 'transport', 'loss', NULL, 2),
('丢了', 'category', 'transport', 'loss', NULL, 2),
('弄丢', 'category', 'transport', 'loss', NULL, 2),
('遗失', 'category', 'transport', 'loss', NULL, 2),
('找不到', 'category', 'transport', 'loss', NULL, 2),
('lost', 'category', 'transport', 'loss', NULL, 2),
('missing', 'category', 'transport', 'loss', NULL, 2),
('送错', 'category', 'transport', 'wrong_delivery', NULL, 3),
('派错', 'category', 'transport', 'wrong_delivery', NULL, 3),
('错送', 'category', 'transport', 'wrong_delivery', NULL, 3),
('wrong address', 'category', 'transport', 'wrong_delivery', NULL, 3),
('wrong house', 'category', 'transport', 'wrong_delivery', NULL, 3),
('签收未收到', 'category', 'transport', 'signed_not_received', NULL, 4),
('显示签收', 'category', 'transport', 'signed_not_received', NULL, 3),
('显示已签收', 'category', 'transport', 'signed_not_received', NULL, 3),
('被签收', 'category', 'transport', 'signed_not_received', NULL, 3),
('代签', 'category', 'transport', 'signed_not_received', NULL, 2),
('marked as delivered', 'category', 'transport', 'signed_not_received', NULL, 3),
('shows delivered', 'category', 'transport', 'signed_not_received', NULL, 3),
('signed for', 'category', 'transport', 'signed_not_received', NULL, 2),
('冒领', 'category', 'transport', 'locker_theft', NULL, 4),
('被人拿走', 'category', 'transport', 'locker_theft', NULL, 3),
('柜子里没有', 'category', 'transport', 'locker_theft', NULL, 3),
('stolen', 'category', 'transport', 'locker_theft', NULL, 3),
('taken from the locker', 'category', 'transport', 'locker_theft', NULL, 4),
('态度', 'category', 'service', 'courier_attitude', NULL, 1),
('快递员态度', 'category', 'service', 'courier_attitude', NULL, 2),
('骂人', 'category', 'service', 'courier_attitude', NULL, 2),
('不耐烦', 'category', 'service', 'courier_attitude', NULL, 2),
('rude', 'category', 'service', 'courier_attitude', NULL, 2),
('impolite', 'category', 'service', 'courier_attitude', NULL, 2),
('shouted', 'category', 'service', 'courier_attitude', NULL, 2),
('客服态度', 'category', 'service', 'agent_attitude', NULL, 3),
('客服挂', 'category', 'service', 'agent_attitude', NULL, 3),
('客服不理', 'category', 'service', 'agent_attitude', NULL, 3),
('推诿', 'category', 'service', 'agent_attitude', NULL, 2),
('customer service', 'category', 'service', 'agent_attitude', NULL, 3),
('hung up', 'category', 'service', 'agent_attitude', NULL, 2),
('承诺', 'category', 'service', 'delivery_promise', NULL, 2),
('说好', 'category', 'service', 'delivery_promise', NULL, 2),
('promised', 'category', 'service', 'delivery_promise', NULL, 2),
('guaranteed', 'category', 'service', 'delivery_promise', NULL, 2),
('乱收费', 'category', 'charges', 'overcharge', NULL, 3),
('多收', 'category', 'charges', 'overcharge', NULL, 3),
('多扣', 'category', 'charges', 'overcharge', NULL, 3),
('加价', 'category', 'charges', 'overcharge', NULL, 2),
('overcharged', 'category', 'charges', 'overcharge', NULL, 3),
('charged twice', 'category', 'charges', 'overcharge', NULL, 3),
('extra fee', 'category', 'charges', 'overcharge', NULL, 2),
('价格不明', 'category', 'charges', 'unclear_price', NULL, 3),
('收费标准', 'category', 'charges', 'unclear_price', NULL, 2),
('不透明', 'category', 'charges', 'unclear_price', NULL, 2),
('unclear price', 'category', 'charges', 'unclear_price', NULL, 3),
('hidden fee', 'category', 'charges', 'unclear_price', NULL, 3),
('泄露', 'category', 'information', 'personal_data_leak', NULL, 3),
('隐私', 'category', 'information', 'personal_data_leak', NULL, 2),
('骚扰电话', 'category', 'information', 'personal_data_leak', NULL, 2),
('诈骗电话', 'category', 'information', 'personal_data_leak', NULL, 2),
('leak', 'category', 'information', 'personal_data_leak', NULL, 3),
('leaked', 'category', 'information', 'personal_data_leak', NULL, 3),
('privacy', 'category', 'information', 'personal_data_leak', NULL, 2),
('scam calls', 'category', 'information', 'personal_data_leak', NULL, 2),
('物流信息不对', 'category', 'information', 'wrong_tracking_info', NULL, 3),
('物流不更新', 'category', 'information', 'wrong_tracking_info', NULL, 2),
('轨迹不对', 'category', 'information', 'wrong_tracking_info', NULL, 3),
('tracking is wrong', 'category', 'information', 'wrong_tracking_info', NULL, 3),
('tracking not updated', 'category', 'information', 'wrong_tracking_info', NULL, 2),
('气死', 'angry', NULL, NULL, NULL, 2),
('太差', 'angry', NULL, NULL, NULL, 1),
('垃圾', 'angry', NULL, NULL, NULL, 2),
('投诉到底', 'angry', NULL, NULL, NULL, 2),
('愤怒', 'angry', NULL, NULL, NULL, 2),
('生气', 'angry', NULL, NULL, NULL, 1),
('差评', 'angry', NULL, NULL, NULL, 1),
('骗子', 'angry', NULL, NULL, NULL, 2),
('无语', 'angry', NULL, NULL, NULL, 1),
('angry', 'angry', NULL, NULL, NULL, 2),
('furious', 'angry', NULL, NULL, NULL, 2),
('terrible', 'angry', NULL, NULL, NULL, 1),
('worst', 'angry', NULL, NULL, NULL, 1),
('unacceptable', 'angry', NULL, NULL, NULL, 2),
('ridiculous', 'angry', NULL, NULL, NULL, 1),
('药', 'goods', NULL, NULL, 'medicine', 1),
('胰岛素', 'goods', NULL, NULL, 'medicine', 1),
('medicine', 'goods', NULL, NULL, 'medicine', 1),
('insulin', 'goods', NULL, NULL, 'medicine', 1),
('prescription', 'goods', NULL, NULL, 'medicine', 1),
('生鲜', 'goods', NULL, NULL, 'fresh_food', 1),
('海鲜', 'goods', NULL, NULL, 'fresh_food', 1),
('水果', 'goods', NULL, NULL, 'fresh_food', 1),
('冷链', 'goods', NULL, NULL, 'fresh_food', 1),
('seafood', 'goods', NULL, NULL, 'fresh_food', 1),
('frozen', 'goods', NULL, NULL, 'fresh_food', 1),
('fresh food', 'goods', NULL, NULL, 'fresh_food', 1),
('合同', 'goods', NULL, NULL, 'documents', 1),
('护照', 'goods', NULL, NULL, 'documents', 1),
('证件', 'goods', NULL, NULL, 'documents', 1),
('contract', 'goods', NULL, NULL, 'documents', 1),
('passport', 'goods', NULL, NULL, 'documents', 1);
-- keywords:end

-- Customer tiers: customers on this list (by the pseudonymous customer_ref) are VIP.
CREATE TABLE vip_customers (
  customer_ref text PRIMARY KEY,
  tier         text NOT NULL DEFAULT 'vip' CHECK (tier = 'vip'),
  note         text NOT NULL DEFAULT '',
  added_at     timestamptz NOT NULL DEFAULT now()
);

-- SLA policies: the first row by rank whose non-NULL columns all match the classification
-- applies. Durations in seconds; pausable_clocks pause while waiting on the customer
-- (regulatory never pauses). GET/PUT /v1/sla-policies. Keep a catch-all row (all NULL).
CREATE TABLE sla_policies (
  name             text PRIMARY KEY,
  rank             integer NOT NULL,
  category         text,
  subcategory      text,
  urgency          text CHECK (urgency IN ('normal', 'urgent', 'very_urgent')),
  tier             text CHECK (tier IN ('standard', 'vip')),
  first_response_s integer NOT NULL CHECK (first_response_s > 0),
  verification_s   integer NOT NULL CHECK (verification_s > 0),
  resolution_s     integer NOT NULL CHECK (resolution_s > 0),
  regulatory_s     integer NOT NULL CHECK (regulatory_s > 0),
  pausable_clocks  text[] NOT NULL DEFAULT '{verification,resolution}',
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sla_policies_by_rank ON sla_policies (rank, name);
INSERT INTO sla_policies (name, rank, category, subcategory, urgency, tier, first_response_s,
                          verification_s, resolution_s, regulatory_s, pausable_clocks) VALUES
('very_urgent',         10,   NULL,          NULL,                 'very_urgent', NULL,  60,  900,   7200,   604800, '{verification,resolution}'),
('vip',                 20,   NULL,          NULL,                 NULL,          'vip', 60,  1800,  43200,  604800, '{verification,resolution}'),
('urgent',              30,   NULL,          NULL,                 'urgent',      NULL,  120, 1800,  7200,   604800, '{verification,resolution}'),
('loss',                40,   'transport',   'loss',               NULL,          NULL,  180, 86400, 172800, 604800, '{verification,resolution}'),
('signed_not_received', 41,   'transport',   'signed_not_received',NULL,          NULL,  180, 86400, 172800, 604800, '{verification,resolution}'),
('locker_theft',        42,   'transport',   'locker_theft',       NULL,          NULL,  180, 86400, 172800, 604800, '{verification,resolution}'),
('delay',               50,   'transport',   'delay',              NULL,          NULL,  180, 1800,  7200,   604800, '{resolution}'),
('data_leak',           60,   'information', 'personal_data_leak', NULL,          NULL,  180, 1800,  86400,  604800, '{}'),
('default',             1000, NULL,          NULL,                 NULL,          NULL,  180, 1800,  86400,  604800, '{verification,resolution}');

-- The first-response templates (the three standard scenarios) per language. Placeholders:
-- {complaint_no} {waybill_no} {latest_scan} {next_update_by}.
CREATE TABLE response_templates (
  scenario   text NOT NULL CHECK (scenario IN ('emotional', 'inquiry', 'compensation')),
  language   text NOT NULL,
  body       text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (scenario, language)
);
INSERT INTO response_templates (scenario, language, body) VALUES
('emotional', 'zh-CN', '非常理解您的心情，给您带来不便我们深感抱歉。您的投诉 {complaint_no}（运单 {waybill_no}）已由专人跟进，包裹最新状态：{latest_scan}。我们会在 {next_update_by} 前给您明确答复。'),
('emotional', 'en', 'We are sorry for the trouble and understand how frustrating this is. Your complaint {complaint_no} about parcel {waybill_no} now has a dedicated handler; latest scan: {latest_scan}. You will hear from us by {next_update_by}.'),
('inquiry', 'zh-CN', '您的投诉 {complaint_no} 已受理，运单 {waybill_no}，包裹最新状态：{latest_scan}。我们正在核实包裹轨迹和相关情况，将于 {next_update_by} 前回复您。'),
('inquiry', 'en', 'We have recorded your complaint {complaint_no} about parcel {waybill_no}; latest scan: {latest_scan}. We are checking the parcel''s trajectory and will get back to you by {next_update_by}.'),
('compensation', 'zh-CN', '您的投诉 {complaint_no}（运单 {waybill_no}）已受理，我们已记录您的赔偿诉求。包裹最新状态：{latest_scan}。核实责任后将按赔偿标准给出方案，最迟于 {next_update_by} 前告知您处理进度。'),
('compensation', 'en', 'We have recorded your complaint {complaint_no} about parcel {waybill_no} and your request for compensation; latest scan: {latest_scan}. Once responsibility is verified we will propose a remedy under our compensation rules; you will hear about progress by {next_update_by}.');

-- The latest scan per waybill, from parcel.tracking.v1 (cp.parcel.scanned).
CREATE TABLE parcel_positions (
  waybill_no    text PRIMARY KEY,
  code          integer NOT NULL,
  facility_id   text NOT NULL DEFAULT '',
  facility_type text NOT NULL DEFAULT '',
  city          text NOT NULL DEFAULT '',
  lat           double precision,
  lon           double precision,
  occurred_at   timestamptz NOT NULL,
  updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Staff who can take complaints (role agent or courier) and the outlet managers who get
-- escalations. Coordinates in degrees. GET /v1/staff-registry, PUT /v1/staff-registry/{id}.
CREATE TABLE staff (
  staff_id   text PRIMARY KEY,
  outlet_id  text NOT NULL,
  role       text NOT NULL CHECK (role IN ('agent', 'courier', 'outlet_manager')),
  lat        double precision,
  lon        double precision,
  available  boolean NOT NULL DEFAULT true,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX staff_available ON staff (available, role);
CREATE INDEX staff_by_outlet ON staff (outlet_id, role);

-- Routing state: one assignment per complaint, one row per staff member it was offered to.
CREATE TABLE assignments (
  complaint_id   uuid PRIMARY KEY,
  complaint_no   text NOT NULL UNIQUE,
  outlet_id      text NOT NULL DEFAULT '',
  has_origin     boolean NOT NULL DEFAULT false,
  origin_lat     double precision,
  origin_lon     double precision,
  state          text NOT NULL CHECK (state IN ('offered', 'accepted', 'escalated')),
  round          integer NOT NULL DEFAULT 0,
  owner_staff_id text,
  expires_at     timestamptz,
  accepted_at    timestamptz,
  escalated_at   timestamptz,
  created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX assignments_due ON assignments (expires_at) WHERE state = 'offered';

CREATE TABLE offers (
  complaint_id uuid NOT NULL REFERENCES assignments (complaint_id),
  staff_id     text NOT NULL,
  round        integer NOT NULL,
  offered_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (complaint_id, staff_id)
);
CREATE INDEX offers_by_staff ON offers (staff_id, offered_at);
