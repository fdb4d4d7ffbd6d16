"""The console's admin page in real Chromium on the real stack: every operator table (staff
registry, SLA policies, calendars, templates, delay reasons, keywords, compensation policies, authority limits,
VIPs) is shown from the service that owns it; an admin edits an authority limit in the page, a
refused value names its field, and the change is what resolution then holds; axe-core finds no
serious or critical violation at 360 and 1440 px, with an edit form open."""

import uuid

import pytest
from playwright.sync_api import expect

from console_browser import DESKTOP, PHONE, RESULTS, axe_violations, browser, describe, open_page, overflows, page_errors  # noqa: F401
from test_console_staff import sign_in

TABLES = ("table.registry", "table.adm-sla", "table.adm-calendars", "table.adm-templates",
          "table.adm-delay-reasons", "table.adm-keywords", "table.adm-compensation", "table.adm-authority", "table.adm-vip")


def open_admin(page, stack, role="admin"):
    sign_in(page, stack, role)
    page.wait_for_url("**/staff/offers")
    page.goto(f"{stack.base_url}/staff/admin")
    for table in TABLES:
        page.locator(table).wait_for()
    for seeded in TABLES[1:-1]:  # the registry and the VIP list may be empty on a fresh stack
        page.locator(f"{seeded} tbody tr").first.wait_for()


def test_admin_edits_an_authority_limit_in_the_page(stack, http, open_page):
    url = f"{stack.base_url}/v1/authority-limits"
    limits = {x["role"]: x["max_fen"] for x in
              http.get(url, headers=stack.auth("admin")).json()["authority_limits"]}
    page = open_page(PHONE, name="admin-authority-limit")
    open_admin(page, stack)
    expect(page.get_by_role("heading", name="审批权限")).to_be_visible()
    row = page.locator("table.adm-authority tr[data-key='supervisor']")
    expect(row).to_contain_text("¥2,000.00")
    try:
        page.get_by_role("button", name="编辑 supervisor").click()
        form = page.locator("#authority-form")
        expect(form.get_by_label("角色")).to_have_value("supervisor")
        form.get_by_label("最高金额（分）").fill("-5")
        form.get_by_role("button", name="保存").click()
        expect(form.get_by_role("alert")).to_contain_text("max_fen")
        form.get_by_label("最高金额（分）").fill("210000")
        form.get_by_role("button", name="保存").click()
        expect(page.locator("#authority [role=status]")).to_have_text("已保存 supervisor。")
        expect(row).to_contain_text("¥2,100.00")
        page.screenshot(path=str(RESULTS / "admin-authority-limit.png"), full_page=True)
        after = {x["role"]: x["max_fen"] for x in
                 http.get(url, headers=stack.auth("supervisor")).json()["authority_limits"]}
        assert after["supervisor"] == 210000
        trail = stack.db().execute(
            "SELECT actor, after FROM resolution.admin_audit WHERE entity = 'authority_limits' "
            "AND key = 'supervisor' ORDER BY id DESC LIMIT 1").fetchone()
        assert trail == ("ADM1", {"role": "supervisor", "max_fen": 210000})
        # the one refused request is the -5 the test typed; nothing else failed
        assert [m for m in page_errors(page) if "status of 422" not in m] == []
        assert len(page_errors(page)) == 1
    finally:
        http.put(f"{url}/supervisor", json={"max_fen": limits["supervisor"]},
                 headers=stack.auth("admin"))


def test_admin_describes_a_carriers_delay_code_in_the_page(stack, http, open_page):
    code = f"landslide_{uuid.uuid4().hex[:6]}"
    page = open_page(DESKTOP, name="admin-delay-reason")
    open_admin(page, stack)
    table = page.locator("table.adm-delay-reasons")
    expect(table.locator("tr[data-key='weather/zh-CN']")).to_contain_text("天气原因")
    page.locator("#delay-reasons").get_by_role("button", name="新增").click()
    form = page.locator("#delay-reasons-form")
    form.get_by_label("承运商代码").fill(code)
    form.get_by_label("客户看到的说法").fill("山体滑坡，道路中断")
    form.get_by_role("button", name="保存").click()
    # the table reloads from followup after the save (a busy machine may take a while)
    expect(table.locator(f"tr[data-key='{code}/zh-CN']")).to_contain_text("山体滑坡，道路中断",
                                                                        timeout=20000)
    got = http.get(f"{stack.base_url}/v1/delay-reasons", headers=stack.auth("agent")).json()
    assert {"code": code, "language": "zh-CN", "text": "山体滑坡，道路中断",
            "updated_by": "ADM1"}.items() <= next(
        x for x in got["delay_reasons"] if x["code"] == code).items()


def test_a_supervisor_reads_the_tables_but_cannot_change_them(stack, http, open_page):
    page = open_page(DESKTOP, name="admin-supervisor-read-only")
    open_admin(page, stack, "supervisor")
    # the tables show the codes they hold by their labels (the code is the title)
    expect(page.locator("table.adm-sla tr[data-key='very_urgent']")).to_contain_text("特急")
    expect(page.locator("table.adm-authority tr[data-key='agent'] td").first).to_have_text("客服专员")
    expect(page.locator("table.adm-authority tr[data-key='agent'] .code")).to_have_attribute(
        "title", "代码：agent")
    page.get_by_role("button", name="编辑 default").first.click()
    form = page.locator("#sla-form")
    form.get_by_role("button", name="保存").click()
    expect(form.get_by_role("alert")).to_contain_text("403")


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["360px", "1440px"])
def test_admin_page_has_no_serious_accessibility_violation(stack, open_page, viewport):
    page = open_page(viewport, name=f"axe-admin-{viewport['width']}")
    open_admin(page, stack)
    found = {"admin": axe_violations(page)}
    assert overflows(page) <= 0, f"the admin page scrolls sideways at {viewport['width']} px"
    # with the forms open: the calendar's (text areas) and the compensation policy's (a select)
    page.get_by_role("button", name="编辑 cn-mainland").click()
    page.locator("#calendars-form").wait_for()
    page.get_by_role("button", name="编辑 default").nth(1).click()
    page.locator("#compensation-form").wait_for()
    found["admin-forms"] = axe_violations(page)
    assert overflows(page) <= 0, f"the open forms scroll sideways at {viewport['width']} px"
    assert all(not v for v in found.values()), describe(found)
    assert page_errors(page) == []
