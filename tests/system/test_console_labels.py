"""The staff case page speaks the page's language: no raw domain code (party `unknown`, stage,
SLA policy `default`, finding `no_tracking`, a remedy's rule ...) and no English sentence of a
service is shown on the zh-CN page; the codes have their labels (i18n.ts) and the raw code is only
a title hint. Money is written with Intl.NumberFormat in the page's locale, and a plan without an
amount says "no compensation proposed" (never "¥0.00"); a draft is marked as a proposal."""

import re

import pytest
from playwright.sync_api import expect

from console_browser import (DESKTOP, PHONE, RESULTS, axe_violations, browser, describe, open_page,  # noqa: F401
                             overflows, page_errors)
from helpers import complaint, post, wait_rows
from test_console_i18n import code_families


def _ready(stack, http, **over) -> str:
    """Files a complaint and waits until the case view carries its classification, evidence and
    the system's draft plan (each arrives through events)."""
    r = post(http, stack, complaint(**over))
    assert r.status_code == 201, r.text
    no = r.json()["complaint_no"]
    wait_rows(stack, "SELECT 1 FROM intake.complaints c WHERE c.complaint_no = %s AND "
              "c.sla_policy IS NOT NULL AND EXISTS (SELECT 1 FROM intake.case_evidence e WHERE "
              "e.complaint_id = c.id) AND EXISTS (SELECT 1 FROM intake.case_plans p WHERE "
              "p.complaint_id = c.id)", (no,), timeout=60)
    return no


def _sign_in(page, stack, role="supervisor"):
    from stack import TOKENS
    page.goto(f"{stack.base_url}/staff/signin")
    page.get_by_label("访问令牌").fill(TOKENS[role][0])
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/staff/offers")


# every code the services return, and any lower-case ASCII word: on a zh-CN page either is a
# code shown raw (ids such as CP…, waybill numbers and staff ids are upper-case or digits)
CODES = set().union(*code_families().values())


def raw_codes(text: str) -> set[str]:
    words = set(re.findall(r"(?<![A-Za-z0-9_-])[A-Za-z_][A-Za-z0-9_]*", text))
    return {w for w in words if w in CODES or "_" in w or re.fullmatch(r"[a-z]{2,}", w)}


def test_raw_codes_are_caught():
    # the check itself: it must see what the reviewer saw
    assert raw_codes("责任方 unknown 环节 sorting_centre 时限策略 default") == {
        "unknown", "sorting_centre", "default"}
    assert raw_codes("工单 CP20261202-000001 · P3 · SF1234567890 · A001 · 12 KB") == set()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["360px", "1440px"])
def test_zh_case_page_shows_labels_not_codes(stack, http, open_page, viewport):
    # a damage without tracking data: party and stage unknown, the default policy, the finding
    # no_tracking and a draft plan with an amount (the declared value)
    no = _ready(stack, http)
    view = http.get(f"{stack.base_url}/v1/staff/complaints/{no}", headers=stack.auth("supervisor")).json()
    assert view["evidence"]["responsibility"]["party"] == "unknown"
    [plan] = view["plans"]
    assert plan["status"] == "proposed" and plan["total_fen"] > 0, plan

    page = open_page(viewport, name=f"labels-case-zh-{viewport['width']}")
    _sign_in(page, stack)
    page.goto(f"{stack.base_url}/staff/case/{no}")
    expect(page.locator(".findings")).to_be_visible()
    expect(page.locator(".proposal").first).to_be_visible()
    page.locator(".timeline li").first.wait_for()
    main = page.locator("main")
    expect(main).to_contain_text("尚未确定")  # party and stage "unknown"
    expect(main).to_contain_text("暂无物流信息")  # finding no_tracking
    expect(main).to_contain_text("破损")
    # the raw code stays available to staff as the title of its label
    expect(page.locator(".code[data-code='unknown']").first).to_have_attribute("title", "代码：unknown")
    # money in the page's format, as a proposal a person still decides
    amount = page.evaluate("(fen) => new Intl.NumberFormat('zh-CN', {style: 'currency', currency: 'CNY'})"
                           ".format(fen / 100)", plan["total_fen"])
    expect(page.locator(".plan-money").first).to_have_text(f"拟赔付 {amount}（待决定）")
    expect(main).to_contain_text("系统起草的方案只是建议，由负责人决定。")

    shown = main.inner_text()
    (RESULTS / f"labels-case-zh-{viewport['width']}.txt").write_text(shown)
    assert raw_codes(shown) == set(), (sorted(raw_codes(shown)), shown)
    assert "¥0.00" not in shown
    assert page_errors(page) == []
    assert axe_violations(page) == [], describe(axe_violations(page))
    assert overflows(page) <= 0


def test_a_plan_without_money_says_so_in_both_languages(stack, http, open_page):
    # courier attitude: the draft promises better service and an apology, no amount
    no = _ready(stack, http, type="other", description="快递员态度很差，电话里骂人",
                impact={"goods": ["other"]}, demand=["apology"])
    view = http.get(f"{stack.base_url}/v1/staff/complaints/{no}", headers=stack.auth("supervisor")).json()
    assert [p["total_fen"] for p in view["plans"]] == [0], view["plans"]

    page = open_page(DESKTOP, name="labels-case-no-money")
    _sign_in(page, stack)
    page.goto(f"{stack.base_url}/staff/case/{no}")
    money = page.locator(".plan-money").first
    expect(money).to_have_text("未提出赔偿")
    shown = page.locator("main").inner_text()
    assert "¥" not in shown.split("处理方案", 1)[1], shown
    assert raw_codes(shown) == set(), raw_codes(shown)

    # the queue names categories and states in words too
    page.goto(f"{stack.base_url}/staff/queue")
    table = page.locator("table.queue")
    expect(table.get_by_role("link", name=no)).to_be_visible()
    assert raw_codes(table.inner_text()) == set(), raw_codes(table.inner_text())
    page.goto(f"{stack.base_url}/staff/case/{no}")
    expect(money).to_have_text("未提出赔偿")

    page.get_by_role("button", name="切换语言: English").click()
    expect(money).to_have_text("No compensation proposed")
    expect(page.locator("main")).to_contain_text("Not determined yet")
    assert not {w for w in raw_codes(page.locator("main").inner_text()) if "_" in w}
    assert page_errors(page) == []
