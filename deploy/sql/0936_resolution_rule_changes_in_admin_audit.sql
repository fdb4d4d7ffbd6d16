-- resolution: a change of an auto-settlement rule is recorded in admin_audit too (settle.c),
-- where the read API and the console's audit page find every operator table's changes; the
-- changes recorded before (auto_settlement_rule_audit only) are copied there once, in order.
SET LOCAL ROLE resolution;
SET LOCAL search_path = resolution, public;

INSERT INTO admin_audit (at, actor, entity, key, before, after)
SELECT at, actor, 'auto_settlement_rules', name, before, after
  FROM auto_settlement_rule_audit ORDER BY id;
