"""The console's languages are complete: every text key a page uses literally exists in zh-CN,
zh-Hant and en, and the dictionaries hold the same keys; the zh-Hant one is exactly what OpenCC
makes of zh-CN and holds no simplified character. Needs no stack."""

import re
import subprocess

from stack import ROOT

SRC = ROOT / "services" / "console" / "src"


def _dicts():
    text = (SRC / "i18n.ts").read_text()
    out = {}
    for name in ("zh", "en"):
        body = re.search(rf"const {name}: Dict = \{{(.*?)\n\}};", text, re.S).group(1)
        out[name] = dict(re.findall(r'^\s*"([^"]+)":\s*"((?:[^"\\]|\\.)*)",?$', body, re.M))
    # the traditional catalogue zh-hant.mjs generates (JSON.stringify lines, same pattern)
    body = re.search(r"zhHant: Record<string, string> = \{(.*?)\n\};", (SRC / "i18n.zh-Hant.ts").read_text(), re.S).group(1)
    out["zhHant"] = dict(re.findall(r'^\s*"([^"]+)":\s*"((?:[^"\\]|\\.)*)",?$', body, re.M))
    return out


def test_both_languages_have_the_same_keys():
    d = _dicts()
    assert len(d["zh"]) > 100
    assert set(d["zh"]) ^ set(d["en"]) == set(), sorted(set(d["zh"]) ^ set(d["en"]))
    assert set(d["zh"]) ^ set(d["zhHant"]) == set(), sorted(set(d["zh"]) ^ set(d["zhHant"]))


def test_zh_hant_is_the_converters_output_of_zh_cn():
    """src/i18n.zh-Hant.ts is generated (OpenCC cn -> tw plus the script's override list), never
    edited: a zh-CN text changed without regenerating, or a hand edit, fails here."""
    r = subprocess.run(["node", str(SRC.parent / "zh-hant.mjs"), "--check"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


# Characters only simplified Chinese writes (each has a different traditional form), among them
# the ones of this domain: 快递, 运单, 问题, 赔偿, 投诉 ...
SIMPLIFIED_ONLY = "递运单说问这发们个对会认请话时诉赔偿关键处门号图车钟级开报达权员务联链设网络"


def test_zh_hant_holds_no_simplified_character():
    d = _dicts()
    left = {k: v for k, v in d["zhHant"].items() if set(v) & set(SIMPLIFIED_ONLY)}
    assert left == {}, left
    # and the conversion did something: the zh-CN texts do use these characters
    assert sum(1 for v in d["zh"].values() if set(v) & set(SIMPLIFIED_ONLY)) > 100
    # the domain words as Hong Kong and Taiwan write them (the override list)
    assert d["zhHant"]["app.title"] == "快遞投訴服務"
    assert "資訊" in d["zhHant"]["subcat.wrong_tracking_info"] and "信息" not in d["zhHant"]["subcat.wrong_tracking_info"]
    assert "連結" in d["zhHant"]["status.badlink"]


def test_every_literal_key_a_page_uses_exists():
    keys = set(_dicts()["en"])
    used = set()
    for path in SRC.rglob("*.tsx"):
        used |= set(re.findall(r'\bt\("([a-z][\w.]*)"', path.read_text()))
    assert used, "no t(...) calls found"
    assert used <= keys, sorted(used - keys)


def test_placeholders_match_between_languages():
    d = _dicts()
    for key, zh in d["zh"].items():
        assert set(re.findall(r"\{(\w+)\}", zh)) == set(re.findall(r"\{(\w+)\}", d["en"][key])), key
        assert set(re.findall(r"\{(\w+)\}", zh)) == set(re.findall(r"\{(\w+)\}", d["zhHant"][key])), key


# ---- the domain codes the APIs return: each has a label in every language of the console ----
#
# The console shows no raw code (party `unknown`, stage `sorting`, finding `no_tracking`, a
# remedy's rule ...): i18n.ts holds a label per code, keyed "<family>.<code>" (label() and
# <Code> in the pages). The codes are read here from where the services define them -- proto/
# enums and field comments, the SQL CHECK constraints and seeded rows, and the C tables and
# literals that produce them -- so a code added there without a label fails this test.

PROTO = ROOT / "proto"
SQL = ROOT / "deploy" / "sql"
SVC = ROOT / "services"


def _proto_enum(name: str, prefix: str) -> set[str]:
    text = "\n".join(p.read_text() for p in PROTO.glob("*.proto"))
    body = re.search(rf"enum {name} \{{(.*?)\}}", text, re.S).group(1)
    return {m.lower() for m in re.findall(rf"\b{prefix}([A-Z_]+) = [1-9]\d*;", body)}


def _proto_comment(file: str, field: str) -> set[str]:
    """The values a proto field's comment lists (`string stage = 1; // pickup, sorting, ...`)."""
    line = re.search(rf"\b{field} = \d+;\s*//([^\n]*)", (PROTO / file).read_text()).group(1)
    # "contacted by call: reached, no_answer" lists what follows the colon
    line = line.split(":", 1)[1] if ":" in line and "," not in line.split(":")[0] else line
    return {w for w in re.findall(r"\b[a-z][a-z_]+\b", line)
            if w not in {"e", "g", "or", "the", "by", "when", "what", "why", "gateway", "file"}}


def _sql_check(column: str) -> set[str]:
    out = set()
    for p in SQL.glob("*.sql"):
        for m in re.finditer(rf"\b{column}\b[^;]*?CHECK \({column} IN \(([^)]*)\)", p.read_text()):
            out |= set(re.findall(r"'([a-z_]+)'", m.group(1)))
    return out


def _c_array(path: str, name: str) -> list[str]:
    body = re.search(rf"\b{name}\[[A-Z_]*\]\s*=\s*\{{(.*?)\}};", (SVC / path).read_text(), re.S).group(1)
    return re.findall(r'"([a-z_]+)"', body)


def _c_call_args(path: str, fn: str):
    """The argument texts of every call of fn in a C file (its definition and declaration, whose
    first parameter starts with struct or const, left out), split at the top-level commas
    outside string literals."""
    src = (SVC / path).read_text()
    for m in re.finditer(rf"\b{fn}\((?!struct|const)", src):
        depth, args, cur = 1, [], ""
        for ch in src[m.end():]:
            if ch in "([":
                depth += 1
            elif ch in ")]":
                depth -= 1
                if depth == 0:
                    break
            if ch == "," and depth == 1 and cur.count('"') % 2 == 0:
                args.append(cur)
                cur = ""
            else:
                cur += ch
        args.append(cur)
        yield args


def _c_calls(path: str, fn: str, arg: int) -> set[str]:
    """The string literals in argument `arg` (0-based) of every call of fn in a C file."""
    out = set()
    for args in _c_call_args(path, fn):
        if len(args) > arg:
            out |= set(re.findall(r'"([a-z_]+)"', args[arg]))
    return out


def _assess_literals(var: str) -> set[str]:
    src = (SVC / "evidence" / "assess.c").read_text()
    return set(re.findall(rf'\*{var} = "([a-z_]+)"', src))


def _templates() -> tuple[set[str], set[str]]:
    """The message templates' steps and their {placeholders}, as seeded in deploy/sql."""
    steps, names = set(), set()
    for p in SQL.glob("*.sql"):
        for m in re.finditer(r"INSERT INTO (?:templates|response_templates)\s*\([^)]*\)\s*VALUES(.*?)\)"
                             r"\s*(?:ON CONFLICT[^;]*)?;\s*$", p.read_text(), re.S | re.M):
            steps |= set(re.findall(r"^\s*\('([a-z_]+)'", m.group(1), re.M))
            names |= set(re.findall(r"\{([a-z_]+)\}", m.group(1)))
    return steps, names


def code_families() -> dict[str, set[str]]:
    subcats = re.findall(r'^\s*\{"([a-z_]+)", "([a-z_]+)", \d', (SVC / "classification" / "classify.c").read_text(), re.M)
    evidence = SVC / "evidence" / "assess.c"
    blame = _c_calls("evidence/assess.c", "blame", 1) | _c_calls("evidence/assess.c", "blame", 2)
    policy_c = (SVC / "resolution" / "policy.c").read_text()
    resolution_c = "".join(re.sub(r'"\s*\n\s*"', "", p.read_text()) for p in (SVC / "resolution").glob("*.c"))
    rules = set(re.findall(r'snprintf\([^;]*?rule[^;]*?"([a-z_]+)"', resolution_c))
    rules |= set(re.findall(r"\brule = '([a-z_]+)'", resolution_c))
    rules.discard("rule")  # a log line's key, not a value
    rules |= set(re.findall(r'\? "([a-z_]+)"\s*:\s*"([a-z_]+)"', policy_c)[0])
    rules |= _c_calls("resolution/policy.c", "add", 3) - {"rule"}
    parties = _proto_comment("evidence.proto", "party") | _assess_literals("party") | blame
    not_liable = set(re.findall(r'"([a-z_]+)"', re.search(
        r"not_liable\(const char \*party\)\s*\{(.*?)\n\}", policy_c, re.S).group(1)))
    rules |= {f"not_liable_{p}" for p in not_liable} | not_liable
    steps = set(re.findall(r'struct step_def s = \{\s*"([a-z_]+)"', (SVC / "intake" / "timeline.c").read_text()))
    for pair in re.findall(r'struct step_def s = \{strcmp\([^?]*\?\s*"([a-z_]+)"\s*:\s*"([a-z_]+)"',
                           (SVC / "intake" / "timeline.c").read_text()):
        steps |= set(pair)
    convs = set()
    for p in (SVC / "intake").glob("*.c"):
        # the SQL as one string: adjacent C literals joined (also across a macro's `\` lines)
        sql = re.sub(r'"\s*(?:\\\s*)?\n\s*"', "", p.read_text())
        steps |= set(re.findall(r"INSERT INTO timeline \(complaint_id, step[^)]*\)\s*"
                                r"(?:VALUES \(\$1(?:::uuid)?, |SELECT (?:\$\d|[a-z_]+), )\s*'([a-z_]+)'", sql))
        convs |= set(re.findall(r"'(?:to|from)_customer', '([a-z_]+)'", sql))
        convs |= set(re.findall(r'converse\(c, ev, "[a-z_]+", "([a-z_]+)"', sql))
    plan_states = {"proposed", "pending_approval", "approved", "rejected", "executing", "executed",
                   "failed", "superseded"}
    steps |= {f"plan_{s}" for s in plan_states}
    return {
        "type": _proto_enum("ComplaintType", "COMPLAINT_TYPE_"),
        "scan": _proto_enum("ScanCode", "SCAN_") | _proto_comment("evidence.proto", "code"),
        "category": _proto_comment("classification.proto", "category") | {c for _, c in subcats},
        "subcat": {s for s, _ in subcats},
        "urgency": set(_c_array("classification/classify.c", "urgencies")) | _sql_check("urgency"),
        "severity": set(_c_array("classification/classify.c", "severities")),
        "tier": _sql_check("tier"),
        "policy": {n for p in SQL.glob("*.sql") for m in re.finditer(
            r"INSERT INTO sla_policies \([^)]*\) VALUES(.*?);", p.read_text(), re.S)
            for n in re.findall(r"^\('([a-z_]+)'", m.group(1), re.M)},
        "channel": set(_c_array("intake/validate.c", "channels")) | {"proactive"},
        "target": _proto_comment("intake.proto", "kind") | set(_c_array("intake/validate.c", "target_kinds")),
        "stage": _proto_comment("evidence.proto", "stage") | _assess_literals("stage") | blame & {
            "pickup", "sorting", "line_haul", "delivery", "locker", "customer_service", "unknown"},
        "party": parties - {"pickup", "sorting", "delivery", "locker", "customer_service"},
        "finding": _c_calls("evidence/assess.c", "add_finding", 1) - {"kind"},
        "remedy": _c_calls("resolution/policy.c", "add", 1) - {"kind"},
        "rule": rules,
        "plan": plan_states,
        "clock": set(_c_array("timer/sla.c", "sla_clock_names")),
        "clockstate": {"running", "paused", "stopped", "exhausted"},
        "close": _proto_comment("followup.proto", "close_reason"),
        "call": _sql_check("outcome"),
        "role": _sql_check("role") | set(_c_array("timer/sla.c", "names"))
        | set(re.findall(r"\('([a-z_]+)', \d+\)", re.search(r"INSERT INTO authority_limits VALUES(.*?);",
                                                              (SQL / "0040_resolution.sql").read_text(), re.S).group(1))),
        "step": steps,
        "conv": convs | _proto_comment("followup.proto", "contact_kind") | {"repeat", "notification"},
        "scenario": _sql_check("scenario"),
        "tpl": _templates()[0],
        "var": _templates()[1],
    }


def test_every_domain_code_has_a_label_in_every_language():
    d = _dicts()
    fams = code_families()
    # the extraction itself must find the codes, or this test could not fail
    assert {"unknown", "sorting_centre", "force_majeure"} <= fams["party"], fams["party"]
    assert {"no_tracking", "stuck", "pod", "no_pod", "locker_no_consent"} <= fams["finding"]
    assert {"default", "proactive"} <= fams["policy"] and "very_urgent" in fams["urgency"]
    assert {"not_liable_customer", "already_paid", "uninsured_freight_cap", "amended"} <= fams["rule"]
    assert {"compensation", "apology", "freight_waiver"} <= fams["remedy"]
    assert len(fams["subcat"]) >= 16 and "locker_stored" in fams["scan"]
    assert {"received", "evidence_found", "evidence_updated", "plan_drafted", "attachment_deleted",
            "note_added"} <= fams["step"], fams["step"]
    assert {"automatic", "reply", "question", "message", "call"} <= fams["conv"], fams["conv"]
    assert {"update_promised", "delay_notice", "received"} <= fams["tpl"] and "complaint_no" in fams["var"]
    missing = {lang: sorted(f"{fam}.{code}" for fam, codes in fams.items() for code in codes
                            if f"{fam}.{code}" not in d[lang])
               for lang in d}
    assert missing == {lang: [] for lang in d}, missing


def _c_literal_args(path: str, fn: str, fmt_arg: int) -> tuple[set[str], set[str]]:
    """The format strings (adjacent literals joined) in argument fmt_arg of every call of fn,
    and the string literals of the arguments after it (ternary words such as "with")."""
    formats, words = set(), set()
    for args in _c_call_args(path, fn):
        if len(args) <= fmt_arg:
            continue
        lits = re.findall(r'"((?:[^"\\]|\\.)*)"', args[fmt_arg])
        if "?" in args[fmt_arg]:
            formats |= set(lits)  # a ternary of two whole formats
        elif lits:
            formats.add("".join(lits))
        for a in args[fmt_arg + 1:]:
            words |= set(re.findall(r'"((?:[^"\\]|\\.)*)"', a))
    return formats, words


def _sentences() -> dict[str, set[str]]:
    text = (SRC / "i18n.ts").read_text()
    out: dict[str, set[str]] = {}
    for scope, c in re.findall(r'\{ scope: "([a-z_]+)", c: "((?:[^"\\]|\\.)*)"', text):
        out.setdefault(scope, set()).add(c.replace('\\"', '"'))
    return out


def test_every_sentence_the_services_write_has_a_translation():
    d, table = _dicts(), _sentences()
    why = set(re.findall(r'snprintf\((?:reason|out->reason), (?:cap|sizeof\(out->reason\)),\s*((?:"(?:[^"\\]|\\.)*"\s*)+)',
                         (SVC / "classification" / "classify.c").read_text()))
    why = {"".join(re.findall(r'"((?:[^"\\]|\\.)*)"', w)) for w in why}
    reasons, reason_words = _c_literal_args("evidence/assess.c", "add_reason", 1)
    details, detail_words = _c_literal_args("evidence/assess.c", "add_finding", 4)
    assert len(why) >= 9 and len(reasons) >= 30 and len(details) >= 15, (why, reasons, details)
    assert why - table["why"] == set(), sorted(why - table["why"])
    assert reasons - {"%s"} - table["reason"] == set(), sorted(reasons - {"%s"} - table["reason"])
    every_detail = set().union(*(v for k, v in table.items() if k not in ("why", "reason")))
    assert details - {"%s"} - every_detail == set(), sorted(details - {"%s"} - every_detail)
    # the words a format takes as an argument, the causes of a delay, the answers to evidence
    # requests and the facility types are labelled too
    words = {w.strip() for w in detail_words | reason_words if w.strip() and "%" not in w}
    words -= {"no proof-of-delivery photo"}  # a whole detail (the "%s" of a missing photo)
    main = (SVC / "evidence" / "main.c").read_text()
    causes = set(re.search(r'"FORCE_MAJEURE_REASONS", CFG_STR, "([a-z_,]+)"', main).group(1).split(","))
    causes |= set(re.findall(r'cause_scan\([^;]*?"([a-z_]+)"', (SVC / "evidence" / "assess.c").read_text()))
    outcomes = set(_c_array("evidence/assess.c", "outcomes"))
    facilities = _proto_comment("tracking.proto", "facility_type")
    for lang, dict_ in d.items():
        need = ({f"phrase.{w}" for w in words} | {f"cause.{c}" for c in causes}
                | {f"outcome.{o}" for o in outcomes} | {f"facility.{f}" for f in facilities})
        assert sorted(need - set(dict_)) == [], (lang, sorted(need - set(dict_)))
    keys = set(re.findall(r'key: "([a-z_.]+)"', (SRC / "i18n.ts").read_text()))
    assert keys and all(k in d["zh"] and k in d["en"] and k in d["zhHant"] for k in keys), sorted(k for k in keys if k not in d["zh"])


def test_every_audited_table_has_a_console_name_and_is_in_the_audit_filter():
    """The audit page names a table (audit_record's entity) by its console name and offers it
    in its service's entity filter; a newly audited table without either fails here."""
    calls = {"classification": [("keywords.c", "audit_record"), ("policies.c", "audit_record"),
                                ("registry.c", "audit_record"), ("vip.c", "audit_record")],
             "resolution": [("admin.c", "change")], "timer": [("calendars_api.c", "audit_record")],
             "intake": [("photos.c", "audit_record_reason")]}
    tables = {svc: set().union(*(_c_calls(f"{svc}/{f}", fn, 2) for f, fn in files))
              for svc, files in calls.items()}
    # follow-up's phrase tables name their entity first; resolution's rule changes are
    # copied into its audit by a migration
    tables["followup"] = set(re.findall(r'struct phrase_table \w+ = \{\s*"([a-z_]+)"',
                                        (SVC / "followup" / "api.c").read_text()))
    tables["resolution"] |= set(re.findall(r"SELECT at, actor, '([a-z_]+)'", (
        SQL / "0936_resolution_rule_changes_in_admin_audit.sql").read_text()))
    assert {"attachments"} == tables["intake"] and "vip_customers" in tables["classification"]
    assert {"templates", "delay_reasons"} <= tables["followup"], tables["followup"]
    assert "auto_settlement_rules" in tables["resolution"], tables["resolution"]
    d = _dicts()
    missing = {lang: sorted(f"audit.table.{e}" for es in tables.values() for e in es
                            if f"audit.table.{e}" not in d[lang]) for lang in d}
    assert missing == {lang: [] for lang in d}, missing
    page = (SRC / "pages" / "audit.tsx").read_text()
    offered = {svc: set(re.findall(r'"([a-z_]+)"', body))
               for svc, body in re.findall(r"(\w+): \[([^\]]*)\]", page.split("ENTITIES", 1)[1]
                                           .split("};", 1)[0])}
    assert offered == tables, (offered, tables)
