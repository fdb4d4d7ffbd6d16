"""The console's customer pages in real Chromium on the real stack: the QR landing page files a
damage complaint with a photo and leads to the status page, and staff see the photo on the case
page; the pages are served with a strict CSP and cache
headers by the front door; axe-core finds no serious or critical violation at 360 and 1440 px."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from console_browser import DESKTOP, PHONE, axe_violations, describe, open_page, browser, overflows, page_errors  # noqa: F401
from helpers import complaint, post, wait_rows, waybill
from test_console_staff import sign_in

PHOTO = Path(__file__).resolve().parents[1] / "fixtures" / "intake" / "photo_gps.jpg"


def test_front_door_serves_the_console_with_a_strict_policy(stack, http):
    for path in ("/", "/c/SF1234567890", "/c/status/CP20260101-000001", "/staff/signin"):
        r = http.get(stack.base_url + path)
        assert r.status_code == 200, path
        assert r.headers["Content-Type"].startswith("text/html")
        assert r.headers["Cache-Control"] == "no-cache"
        csp = r.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "style-src 'self'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert r.headers["Referrer-Policy"] == "no-referrer"
        # no inline script or style, nothing from another origin
        assert not re.search(r"<script(?![^>]*\bsrc=)", r.text)
        assert "<style" not in r.text and "style=" not in r.text
        assert "http://" not in r.text and "https://" not in r.text
    assets = re.findall(r'(?:src|href)="(/assets/[^"]+)"', http.get(stack.base_url + "/").text)
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    for a in assets:
        r = http.get(stack.base_url + a)
        assert r.status_code == 200, a
        assert "immutable" in r.headers["Cache-Control"]
    js = [a for a in assets if a.endswith(".js")][0]
    assert http.get(stack.base_url + js).headers["Content-Type"].startswith("application/javascript")
    # the JSON API keeps its own answers
    assert http.get(stack.base_url + "/v1/nothing-here").json()["error"] == "not_found"


def test_customer_files_a_damage_complaint_with_a_photo_and_staff_see_it(stack, open_page):
    wb = waybill()
    page = open_page(PHONE, name="flow1-customer-files-damage")
    page.goto(f"{stack.base_url}/c/{wb}")
    assert page.locator("#f-waybill").input_value() == wb
    page.get_by_label("包裹破损").check()
    page.get_by_label("电子产品").check()
    page.get_by_label("赔偿").check()
    page.get_by_label("请描述情况").fill("外箱破损，耳机盒被压坏了")
    page.get_by_label("我们如何联系您").select_option("sms")
    page.get_by_label("姓名").fill("李雷")
    page.get_by_label("手机号码").fill("13912345678")
    # a phone photo of the box, with the camera's EXIF GPS position in it
    page.get_by_label("添加照片（外包装、破损处、面单）").set_input_files(str(PHOTO))
    expect(page.locator(".photo-list li")).to_contain_text("photo_gps.jpg")
    page.get_by_role("button", name="提交投诉").click()
    number = page.locator("#complaint-no")
    number.wait_for()
    expect(page.locator("#photos-sent")).to_have_text("已上传 1 张照片。")
    no = number.inner_text().strip()
    assert re.fullmatch(r"CP\d{8}-[0-9A-Z]{6,}", no)
    page.screenshot(path=str(_results() / "flow1-customer-complaint-number.png"), full_page=True)
    page.get_by_role("link", name="查看处理进度").click()
    page.wait_for_url(re.compile(rf"/c/status/{no}\?token=[0-9a-f]+"))
    status = page.locator("#case-status")
    status.wait_for()
    expect(page.get_by_role("heading", name=f"投诉 {no}")).to_be_visible()
    assert page.locator(".timeline li").count() >= 1
    expect(page.get_by_text("我们收到了您的投诉")).to_be_visible()
    assert page.locator("#case-next").inner_text().strip()
    # the case the page shows is the one the API stored, with the phone masked for the customer
    rows = stack.db().execute("SELECT waybill_no, type FROM intake.complaints WHERE complaint_no = %s",
                              (no,)).fetchall()
    assert rows == [(wb, "damage")]
    assert "13912345678" not in page.content()
    expect(page.locator("#case-photos")).to_have_text("我们已收到 1 张照片。")
    expect(page.get_by_text("收到了一张照片")).to_be_visible()
    # the customer sees their own photo (a thumbnail that opens full size), read with the
    # link's proof: the image decodes, and the link is the photo's with that token
    thumb = page.get_by_role("img", name="您上传的照片 1")
    expect(thumb).to_be_visible()
    page.wait_for_function("() => document.querySelector('#own-photos img')?.naturalWidth === 32")
    token = re.search(r"token=([0-9a-f]+)", page.url).group(1)
    expect(page.get_by_role("link", name="查看原图：照片 1")).to_have_attribute(
        "href", f"/v1/complaints/{no}/attachments/1?token={token}")
    page.screenshot(path=str(_results() / "flow1-customer-sees-own-photo.png"), full_page=True)
    stored = stack.db().execute(
        "SELECT a.content_type, a.stripped, position('GPS'::bytea IN a.data) FROM "
        "intake.attachments a JOIN intake.complaints c ON c.id = a.complaint_id "
        "WHERE c.complaint_no = %s", (no,)).fetchall()
    assert stored == [("image/jpeg", ["exif", "xmp", "text"], 0)]
    assert page_errors(page) == []

    # a supervisor opens the case and sees the photo itself (once the case is classified and
    # its clocks run, so every panel of the page has its data)
    wait_rows(stack, "SELECT 1 FROM classification.classifications WHERE complaint_no = %s", (no,))
    wait_rows(stack, "SELECT 1 FROM timer.clocks WHERE complaint_no = %s", (no,))
    staff = open_page(DESKTOP, name="flow1-staff-sees-photo")
    sign_in(staff, stack, "supervisor")
    staff.wait_for_url("**/staff/offers")
    staff.goto(f"{stack.base_url}/staff/case/{no}")
    img = staff.get_by_role("img", name="客户照片 1")
    expect(img).to_be_visible()
    staff.wait_for_function("() => document.querySelector('#case-photos img')?.naturalWidth === 32")
    staff.screenshot(path=str(_results() / "flow1-staff-case-photo.png"), full_page=True)
    assert page_errors(staff) == []


def test_invalid_form_names_the_fields_and_stores_nothing(stack, open_page):
    wb = waybill()
    page = open_page(PHONE, locale="en-US")
    page.goto(f"{stack.base_url}/c/{wb}?lang=en")
    page.get_by_role("button", name="Send complaint").click()
    expect(page.get_by_text("Choose what happened")).to_be_visible()
    assert page.locator("#f-name[aria-invalid=true]").count() == 1
    rows = stack.db().execute("SELECT 1 FROM intake.complaints WHERE waybill_no = %s", (wb,)).fetchall()
    assert rows == []


def test_language_switch_changes_every_text(stack, open_page):
    page = open_page(PHONE)
    page.goto(f"{stack.base_url}/c/{waybill()}")
    expect(page.get_by_role("button", name="提交投诉")).to_be_visible()
    page.get_by_role("button", name="切换语言").click()
    expect(page.get_by_role("button", name="Send complaint")).to_be_visible()
    assert page.evaluate("document.documentElement.lang") == "en"
    page.reload()  # the choice is remembered
    expect(page.get_by_role("button", name="Send complaint")).to_be_visible()


def test_taiwan_and_hong_kong_browsers_get_traditional_chinese(stack, http, open_page):
    from test_console_i18n import SIMPLIFIED_ONLY
    wb = waybill()
    page = open_page(PHONE, name="zh-hant-customer-form", locale="zh-TW")
    page.goto(f"{stack.base_url}/c/{wb}")
    expect(page.get_by_role("button", name="提交投訴")).to_be_visible()
    expect(page.get_by_role("heading", name=f"投訴運單 {wb}")).to_be_visible()
    assert page.evaluate("document.documentElement.lang") == "zh-Hant"
    text = page.inner_text("body")
    assert "快遞投訴服務" in text and "我們如何聯絡您" in text
    assert set(text) & set(SIMPLIFIED_ONLY) == set(), sorted(set(text) & set(SIMPLIFIED_ONLY))
    page.screenshot(path=str(_results() / "zh-hant-customer-form.png"), full_page=True)
    # the switch offers simplified characters, and back
    page.get_by_role("button", name="简体中文").click()
    expect(page.get_by_role("button", name="提交投诉")).to_be_visible()
    page.get_by_role("button", name="繁體中文").click()
    expect(page.get_by_role("button", name="提交投訴")).to_be_visible()
    assert page_errors(page) == []

    # Hong Kong: the status page in traditional characters, dates as Hong Kong writes them
    r = post(http, stack, complaint())
    assert r.status_code == 201, r.text
    no, token = r.json()["complaint_no"], r.json()["link"].split("token=")[1]
    hk = open_page(PHONE, name="zh-hant-customer-status", locale="zh-HK")
    hk.goto(f"{stack.base_url}/c/status/{no}?token={token}")
    expect(hk.get_by_role("heading", name=f"投訴 {no}")).to_be_visible()
    assert hk.evaluate("document.documentElement.lang") == "zh-Hant"
    expect(hk.locator("main")).to_contain_text(re.compile(r"\b\d{2}/\d{2}/20\d{2}\b"))  # day first
    hk.screenshot(path=str(_results() / "zh-hant-customer-status.png"), full_page=True)
    assert page_errors(hk) == []


def test_status_page_with_a_wrong_token_says_the_link_is_invalid(stack, http, open_page):
    r = post(http, stack, complaint())
    no = r.json()["complaint_no"]
    page = open_page(PHONE)
    page.goto(f"{stack.base_url}/c/status/{no}?token=00000000000000000000000000000000")
    expect(page.get_by_role("alert").get_by_text("链接无效")).to_be_visible()


def test_customer_replies_from_the_status_page(stack, http, open_page):
    r = post(http, stack, complaint())
    assert r.status_code == 201, r.text
    link = r.json()["link"]
    no, token = r.json()["complaint_no"], link.split("token=")[1]
    page = open_page(PHONE)
    page.goto(f"{stack.base_url}/c/status/{no}?token={token}")
    with stack.consumer(["complaint.followup.v1"], from_beginning=False) as reader:
        page.get_by_label("您的留言").fill("箱子还在，可以来取")
        page.get_by_role("button", name="发送").click()
        page.get_by_text("已发送").wait_for()
        reader.poll_until(lambda m: m.key == r.json()["complaint_id"] and
                          m.headers.get("ce_type") == "cp.complaint.customer_replied", timeout=20)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["360px", "1440px"])
def test_customer_pages_have_no_serious_accessibility_violation(stack, http, open_page, viewport):
    r = post(http, stack, complaint())
    no, token = r.json()["complaint_no"], r.json()["link"].split("token=")[1]
    # the status page with the customer's own photo among its thumbnails
    up = http.post(f"{stack.base_url}/v1/complaints/{no}/attachments", params={"token": token},
                   data=PHOTO.read_bytes(), headers={"Content-Type": "image/jpeg"})
    assert up.status_code == 201, up.text
    pages = {"home": "/", "landing": f"/c/{waybill()}", "status": f"/c/status/{no}?token={token}",
             "survey": f"/c/survey/{no}?token={token}"}
    page = open_page(viewport, name=f"axe-customer-{viewport['width']}")
    found = {}
    for name, path in pages.items():
        page.goto(stack.base_url + path)
        page.locator("main h1").first.wait_for()
        if name == "status":
            page.locator("#case-status").wait_for()
            page.wait_for_function("() => document.querySelector('#own-photos img')?.naturalWidth > 0")
            page.screenshot(path=str(_results() / f"status-own-photos-{viewport['width']}.png"),
                            full_page=True)
        found[name] = axe_violations(page)
        assert overflows(page) <= 0, f"{name} scrolls sideways at {viewport['width']} px"
    assert all(not v for v in found.values()), describe(found)
    assert page_errors(page) == []


def _results():
    from console_browser import RESULTS
    RESULTS.mkdir(parents=True, exist_ok=True)
    return RESULTS


def test_home_page_looks_a_complaint_up_by_number_and_phone_digits(stack, http, open_page):
    r = post(http, stack, complaint(complainant={"phone": "13912348765"}))
    assert r.status_code == 201, r.text
    no = r.json()["complaint_no"]
    page = open_page(PHONE, name="home-lookup")
    page.goto(f"{stack.base_url}/")
    page.get_by_label("投诉编号").fill(no)
    page.get_by_label("手机号后四位").fill("1111")
    page.get_by_role("button", name="查询", exact=True).click()
    expect(page.get_by_text("没有找到与这两项信息相符的投诉")).to_be_visible()
    page.get_by_label("手机号后四位").fill("8765")
    page.get_by_role("button", name="查询", exact=True).click()
    expect(page.locator("#lookup-result")).to_be_visible()
    expect(page.locator("#lookup-result .badge")).not_to_be_empty()
    # only the status and the next step: the phone and the timeline need the link
    assert "13912348765" not in page.content() and page.locator(".timeline").count() == 0
