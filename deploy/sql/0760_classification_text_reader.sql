-- classification: the trained text reader (issue 11). The two sub-categories the 快递市场管理办法
-- forbids since 1 March 2024 (代签 proxy signing, 不告而投 unconsented locker/station delivery)
-- with their keywords and SLA policy; the model's reading and confidence kept with each
-- classification; agents' corrections kept as labelled examples for the next training.
SET LOCAL ROLE classification;
SET LOCAL search_path = classification, public;

-- The model's reading beside the choice. text_reader: model, keywords (no model loaded or the
-- model could not read the text) or override (an operator's override keyword matched).
-- needs_review: the model was less sure than CLASSIFIER_MIN_CONFIDENCE; a person confirms or
-- corrects the sub-category (PUT /v1/complaints/{no}/classification).
ALTER TABLE classifications
  ADD COLUMN text_reader          text NOT NULL DEFAULT 'keywords'
                                  CHECK (text_reader IN ('model', 'keywords', 'override')),
  ADD COLUMN text_probability     real CHECK (text_probability BETWEEN 0 AND 1),
  ADD COLUMN needs_review         boolean NOT NULL DEFAULT false,
  ADD COLUMN description_redacted text NOT NULL DEFAULT '',
  ADD COLUMN reviewed_by          text,
  ADD COLUMN reviewed_at          timestamptz,
  ADD COLUMN original_subcategory text;
CREATE INDEX classifications_needs_review ON classifications (classified_at) WHERE needs_review;

-- A person's label for a complaint text: the next `make model` can take them into the corpus.
CREATE TABLE labelled_examples (
  id                bigserial PRIMARY KEY,
  complaint_id      uuid NOT NULL,
  complaint_no      text NOT NULL,
  text              text NOT NULL,
  category          text NOT NULL,
  subcategory       text NOT NULL,
  model_subcategory text NOT NULL DEFAULT '',
  model_probability real,
  source            text NOT NULL DEFAULT 'agent_correction'
                    CHECK (source IN ('agent_correction', 'agent_confirmation')),
  staff_id          text NOT NULL,
  created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX labelled_examples_by_time ON labelled_examples (created_at);

-- An override keyword decides the sub-category whatever the model reads (an operator's
-- emergency fix until the next training); the others are evidence and model features.
ALTER TABLE keywords ADD COLUMN override boolean NOT NULL DEFAULT false;

-- keywords:begin (one row per line: cp-textmodel eval reads them after 0200's)
INSERT INTO keywords (keyword, kind, category, subcategory, goods, weight) VALUES
('代签', 'category', 'transport', 'proxy_signed', NULL, 3),
('代收', 'category', 'transport', 'proxy_signed', NULL, 2),
('门卫签收', 'category', 'transport', 'proxy_signed', NULL, 3),
('保安签收', 'category', 'transport', 'proxy_signed', NULL, 3),
('物业签收', 'category', 'transport', 'proxy_signed', NULL, 3),
('前台签收', 'category', 'transport', 'proxy_signed', NULL, 3),
('他人签收', 'category', 'transport', 'proxy_signed', NULL, 3),
('signed for it without', 'category', 'transport', 'proxy_signed', NULL, 4),
('signed by someone', 'category', 'transport', 'proxy_signed', NULL, 4),
('不告而投', 'category', 'transport', 'unconsented_locker_station', NULL, 4),
('放驿站', 'category', 'transport', 'unconsented_locker_station', NULL, 3),
('放到驿站', 'category', 'transport', 'unconsented_locker_station', NULL, 3),
('放快递柜', 'category', 'transport', 'unconsented_locker_station', NULL, 3),
('放进快递柜', 'category', 'transport', 'unconsented_locker_station', NULL, 3),
('放到快递柜', 'category', 'transport', 'unconsented_locker_station', NULL, 3),
('不送货上门', 'category', 'transport', 'unconsented_locker_station', NULL, 3),
('没经过我同意', 'category', 'transport', 'unconsented_locker_station', NULL, 1),
('without my consent', 'category', 'transport', 'unconsented_locker_station', NULL, 2),
('without asking', 'category', 'transport', 'unconsented_locker_station', NULL, 1),
('in a locker', 'category', 'transport', 'unconsented_locker_station', NULL, 2),
('pickup station', 'category', 'transport', 'unconsented_locker_station', NULL, 1),
('臭了', 'category', 'transport', 'damage', NULL, 2),
('烂了', 'category', 'transport', 'damage', NULL, 2),
('变质', 'category', 'transport', 'damage', NULL, 2),
('rotten', 'category', 'transport', 'damage', NULL, 2),
('spoiled', 'category', 'transport', 'damage', NULL, 2),
('thawed', 'category', 'transport', 'damage', NULL, 2),
('少了一件', 'category', 'transport', 'loss', NULL, 2),
('少了', 'category', 'transport', 'loss', NULL, 1),
('送到隔壁', 'category', 'transport', 'wrong_delivery', NULL, 3),
('wrong building', 'category', 'transport', 'wrong_delivery', NULL, 3),
('in transit', 'category', 'transport', 'delay', NULL, 1),
('没更新', 'category', 'information', 'wrong_tracking_info', NULL, 2)
ON CONFLICT (keyword) DO UPDATE SET kind = EXCLUDED.kind, category = EXCLUDED.category,
  subcategory = EXCLUDED.subcategory, goods = EXCLUDED.goods, weight = EXCLUDED.weight,
  updated_at = now();
-- keywords:end

-- The two new sub-categories' clocks: a proxy-signed parcel is searched for like one signed
-- but not received; an unconsented locker or station delivery is put right within a day.
INSERT INTO sla_policies (name, rank, category, subcategory, urgency, tier, first_response_s,
                          verification_s, resolution_s, regulatory_s, pausable_clocks) VALUES
('proxy_signed',               43, 'transport', 'proxy_signed',               NULL, NULL, 180, 86400, 172800, 604800, '{verification,resolution}'),
('unconsented_locker_station', 44, 'transport', 'unconsented_locker_station', NULL, NULL, 180, 1800,  86400,  604800, '{verification,resolution}')
ON CONFLICT (name) DO NOTHING;
