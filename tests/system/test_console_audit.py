"""The console's audit page (/staff/audit) in real Chromium on the real stack: a change an admin
made through an admin API is listed from the owning service with who made it and the row after,
filtered by service, entity and actor, "load more" follows the API's pages; an agent is refused
by the API and the page says so; axe-core finds no serious or critical violation at 360 and
1440 px and the page does not scroll sideways."""

import uuid

import pytest
from playwright.sync_api import expect

from console_browser import DESKTOP, PHONE, axe_violations, browser, describe, open_page, overflows, page_errors  # noqa: F401
from test_console_staff import sign_in


def open_audit(page, stack, role):
    sign_in(page, stack, role)
    page.wait_for_url("**/staff/offers")
    page.goto(f"{stack.base_url}/staff/audit")


def show(page, service, entity="", actor=""):
    form = page.locator("form.audit-filter")
    form.locator("#audit-service").select_option(service)
    form.locator("#audit-entity").select_option(entity)
    form.locator("#audit-actor").fill(actor)
    form.locator("button[type=submit]").click()


def vip_changes(stack, http, n):
    refs = [f"ref_cons{i}_{uuid.uuid4().hex[:8]}" for i in range(n)]
    for ref in refs:
        r = http.put(f"{stack.base_url}/v1/vip-customers/{ref}", json={"note": "console audit"},
                     headers=stack.auth("admin"))
        assert r.status_code == 201, r.text
    return refs


def test_a_supervisor_finds_an_admins_change_and_pages_through(stack, http, open_page):
    refs = vip_changes(stack, http, 52)  # more than one page of 50
    page = open_page(DESKTOP, name="audit-supervisor")
    open_audit(page, stack, "supervisor")
    page.locator("table.audit tbody tr").first.wait_for()  # the default service's latest
    show(page, "classification", entity="vip_customers", actor="ADM1")
    rows = page.locator("table.audit tbody tr")
    expect(rows.first).to_contain_text(refs[-1])
    expect(rows.first).to_contain_text("ADM1")
    expect(rows.first.locator("td").nth(2)).to_have_text("VIP 客户")
    expect(rows).to_have_count(50)
    page.locator("section.card button", has_text="加载更多").click()
    expect(rows.nth(51)).to_contain_text(refs[0])
    # the row after the change, on demand
    rows.first.locator("summary").click()
    expect(rows.first.locator("pre")).to_contain_text("console audit")
    # another service, another actor: nothing of this
    show(page, "classification", entity="vip_customers", actor="S001")
    expect(page.get_by_text("没有符合条件的记录。")).to_be_visible()
    assert page_errors(page) == []


def test_an_agent_is_refused(stack, open_page):
    page = open_page(PHONE, name="audit-agent")
    open_audit(page, stack, "agent")
    expect(page.get_by_role("alert")).to_contain_text("403")


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["360px", "1440px"])
def test_audit_page_has_no_serious_accessibility_violation(stack, http, open_page, viewport):
    vip_changes(stack, http, 1)
    page = open_page(viewport, name=f"axe-audit-{viewport['width']}")
    open_audit(page, stack, "admin")
    show(page, "classification", entity="vip_customers")
    page.locator("table.audit tbody tr").first.wait_for()
    page.locator("table.audit tbody tr summary").first.click()
    found = {"audit": axe_violations(page)}
    assert overflows(page) <= 0, f"the audit page scrolls sideways at {viewport['width']} px"
    assert all(not v for v in found.values()), describe(found)
    assert page_errors(page) == []


def test_a_supervisor_deletes_a_photo_with_a_reason_and_finds_it_in_the_audit(stack, http,
                                                                              open_page):
    from test_intake_attachments import Filed, coloured_jpeg
    case = Filed(stack, http)
    assert case.upload(coloured_jpeg((10, 120, 200))).status_code == 201
    page = open_page(DESKTOP, name="audit-photo-deleted")
    sign_in(page, stack, "supervisor")
    page.wait_for_url("**/staff/offers")
    page.goto(f"{stack.base_url}/staff/case/{case.no}")
    page.locator("#case-photos img").wait_for()
    page.locator("details.photo-delete summary").click()
    submit = page.locator("details.photo-delete button[type=submit]")
    expect(submit).to_be_disabled()  # no reason, no deletion
    page.locator("#photo-del-1").fill("照片里有身份证")
    submit.click()
    expect(page.locator("#case-photos")).to_have_count(0)
    assert case.stored() == 0
    page.goto(f"{stack.base_url}/staff/audit")
    show(page, "intake", entity="attachments", actor="S001")
    row = page.locator("table.audit tbody tr").first
    expect(row).to_contain_text(f"{case.no}/1")
    # the table by its console name, not its SQL name
    expect(row.locator("td").nth(2)).to_have_text("照片")
    expect(row).to_contain_text("照片里有身份证")
    assert page_errors(page) == []
