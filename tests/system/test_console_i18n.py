"""The console's two languages are complete: every text key a page uses literally exists in
both zh-CN and en, and both dictionaries hold the same keys. Needs no stack."""

import re

from stack import ROOT

SRC = ROOT / "services" / "console" / "src"


def _dicts():
    text = (SRC / "i18n.ts").read_text()
    out = {}
    for name in ("zh", "en"):
        body = re.search(rf"const {name}: Dict = \{{(.*?)\n\}};", text, re.S).group(1)
        out[name] = dict(re.findall(r'^\s*"([^"]+)":\s*"((?:[^"\\]|\\.)*)",?$', body, re.M))
    return out


def test_both_languages_have_the_same_keys():
    d = _dicts()
    assert len(d["zh"]) > 100
    assert set(d["zh"]) ^ set(d["en"]) == set(), sorted(set(d["zh"]) ^ set(d["en"]))


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
