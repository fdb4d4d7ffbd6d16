"""The console's password sign-in in real Chromium on the real stack: a member of staff signs in
with staff id and password (an HttpOnly, SameSite=Strict cookie the page never reads), stays
signed in across a reload, changes the password, signs out (the session is refused afterwards);
an admin sets a password from the admin page; axe-core on the sign-in and password pages at 360
and 1440 px."""

import itertools
import time

import pytest
import requests
from playwright.sync_api import expect

from console_browser import DESKTOP, PHONE, RESULTS, browser, open_page, page_errors  # noqa: F401
from stack import BOOTSTRAP_ADMIN, wait_for

_ids = itertools.count(1)
PASSWORD = "console password 0001"


def new_staff(stack, role="agent", password=PASSWORD) -> str:
    staff_id = f"W{int(time.time()) % 100000:05d}{next(_ids):02d}"
    r = requests.put(f"{stack.base_url}/v1/staff-credentials/{staff_id}", headers=stack.auth("admin"),
                     json={"password": password, "role": role}, timeout=30)
    assert r.status_code == 200, r.text
    return staff_id


def api_sign_in(stack, staff_id, password) -> requests.Response:
    return requests.post(f"{stack.base_url}/v1/auth/session", timeout=30,
                         json={"staff_id": staff_id, "password": password})


def fill_sign_in(page, staff_id, password):
    page.get_by_label("工号", exact=True).fill(staff_id)
    page.get_by_label("密码", exact=True).fill(password)
    page.get_by_role("button", name="登录").click()


def test_staff_signs_in_with_a_password_changes_it_and_signs_out(stack, open_page):
    staff_id = new_staff(stack)
    page = open_page(PHONE, name="signin-password-flow")
    page.goto(f"{stack.base_url}/staff/queue")
    page.wait_for_url("**/staff/signin?next=%2Fstaff%2Fqueue")
    fill_sign_in(page, staff_id, "not my password at all")
    expect(page.get_by_role("alert")).to_have_text("工号或密码不正确。")
    fill_sign_in(page, staff_id, PASSWORD)
    page.wait_for_url("**/staff/queue")
    page.locator("main h1").wait_for()
    cookie = {c["name"]: c for c in page.context.cookies()}["cp_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/"
    # the page cannot read its session; a reload asks the server and stays signed in
    assert "cp_session" not in page.evaluate("document.cookie")
    page.reload()
    page.locator("main h1").wait_for()
    assert page.url.endswith("/staff/queue")

    page.get_by_role("link", name="修改密码").click()
    page.wait_for_url("**/staff/password")
    page.get_by_label("当前密码").fill(PASSWORD)
    page.get_by_label("新密码", exact=True).fill("short")
    page.get_by_label("再次输入新密码").fill("short")
    page.get_by_role("button", name="修改密码").click()
    expect(page.get_by_role("alert")).to_contain_text("至少需要 10 个字符")
    new = "console password 0002"
    page.get_by_label("新密码", exact=True).fill(new)
    page.get_by_label("再次输入新密码").fill(new)
    page.get_by_role("button", name="修改密码").click()
    expect(page.get_by_role("status")).to_contain_text("密码已修改")
    assert api_sign_in(stack, staff_id, PASSWORD).status_code == 401
    assert api_sign_in(stack, staff_id, new).status_code == 200
    # the page's own session went on through the change
    page.goto(f"{stack.base_url}/staff/offers")
    page.locator("main h1").wait_for()
    assert page.url.endswith("/staff/offers")

    page.get_by_role("button", name="退出登录").click()
    page.wait_for_url("**/staff/signin")
    wait_for(lambda: requests.get(f"{stack.base_url}/v1/staff/complaints", timeout=10,
                                  headers={"Cookie": f"cp_session={cookie['value']}"}).status_code == 401,
             10, "intake to refuse the signed-out session")
    page.goto(f"{stack.base_url}/staff/queue")
    page.wait_for_url("**/staff/signin?next=%2Fstaff%2Fqueue")


def test_admin_sets_a_password_from_the_admin_page(stack, open_page):
    staff_id = f"W-NEW-{int(time.time() * 1000) % 10**8}"
    page = open_page(DESKTOP, name="signin-admin-passwords")
    page.goto(f"{stack.base_url}/staff/signin")
    fill_sign_in(page, *BOOTSTRAP_ADMIN)
    page.wait_for_url("**/staff/offers")
    page.goto(f"{stack.base_url}/staff/admin")
    page.locator("tr[data-credential='ADM1']").wait_for()
    page.get_by_label("员工编号").fill(staff_id)
    page.get_by_label("登录权限").select_option("supervisor")
    page.get_by_label("初始密码").fill("first password 0003")
    page.get_by_role("button", name="设置密码").click()
    expect(page.get_by_role("status").get_by_text(f"已为 {staff_id} 设置密码")).to_be_visible()
    # the list is read again after the change (slow on a loaded machine: no timing is asserted)
    expect(page.locator(f"tr[data-credential='{staff_id}']")).to_contain_text("主管", timeout=30000)
    r = api_sign_in(stack, staff_id, "first password 0003")
    assert r.status_code == 200 and r.json()["role"] == "supervisor"
    assert page_errors(page) == []
    # end on a short page: the teardown's full-page screenshot of the long admin page timed out
    # on a loaded machine; the form and the row were checked above
    page.locator("section[aria-labelledby=cred-h]").screenshot(path=str(RESULTS / "signin-admin-passwords-section.png"))
    page.goto(f"{stack.base_url}/staff/password")
    page.locator("#pw-old").wait_for()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["360px", "1440px"])
@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_sign_in_and_password_pages_are_accessible(stack, open_page, viewport, locale):
    from console_browser import axe_violations, describe, overflows
    staff_id = new_staff(stack)
    page = open_page(viewport, name=f"axe-signin-{locale}-{viewport['width']}", locale=locale)
    page.goto(f"{stack.base_url}/staff/signin?lang={locale}")
    page.locator("main h1").wait_for()
    found = {"signin": axe_violations(page)}
    widths = {"signin": overflows(page)}
    page.locator("#signin-id").fill(staff_id)
    page.locator("#signin-password").fill(PASSWORD)
    page.locator("button[type=submit]").click()
    page.wait_for_url("**/staff/offers")
    page.goto(f"{stack.base_url}/staff/password")
    page.locator("#pw-old").wait_for()
    page.locator("#pw-new").fill("x")
    page.locator("button[type=submit]").click()  # shows the field errors too
    page.locator("#pw-err").wait_for()
    found["password"] = axe_violations(page)
    widths["password"] = overflows(page)
    assert all(not v for v in found.values()), describe([v for vs in found.values() for v in vs])
    assert widths == {"signin": 0, "password": 0}
    assert page_errors(page) == []
