"""The console's staff pages in real Chromium on the real stack: flow 2, a member of staff with
the offers page open on a phone (360 px) sees a new offer arrive and accepts it in one tap; the
case page shows the whole case and takes actions (note, message to the customer); the queue lists
the case; the supervisor's page draws the dashboard."""

import re
import uuid
from urllib.parse import urlsplit

import pytest
import requests
from playwright.sync_api import expect

from console_browser import DESKTOP, PHONE, RESULTS, browser, open_page, page_errors, watch  # noqa: F401
from helpers import complaint, post, wait_rows
from stack import TOKENS

OUTLET = f"T-CON-{uuid.uuid4().hex[:6]}"
AGENT = "agent"  # test-agent-token-0001, staff id A001


@pytest.fixture(scope="module")
def agent_on_duty(stack):
    """A001 registered alone at an outlet far from every other test's staff, so a complaint
    filed there is offered to A001; afterwards A001 is off duty again, as other tests expect."""
    url = f"{stack.base_url}/v1/staff-registry/{TOKENS[AGENT][1]}"
    r = requests.put(url, json={"outlet_id": OUTLET, "role": "agent", "lat": -33.86, "lon": 151.2,
                                "available": True, "first_name": "小李"},
                     headers=stack.auth("admin"), timeout=10)
    assert r.status_code == 200, r.text
    yield TOKENS[AGENT]
    requests.put(url, json={"outlet_id": OUTLET, "role": "agent", "available": False},
                 headers=stack.auth("admin"), timeout=10)


def sign_in(page, stack, role):
    page.goto(f"{stack.base_url}/staff/signin")
    page.get_by_label("访问令牌").fill(TOKENS[role][0])
    page.get_by_role("button", name="登录").click()


def test_staff_pages_need_a_valid_token(stack, open_page):
    page = open_page(PHONE)
    page.goto(f"{stack.base_url}/staff/offers")
    page.wait_for_url("**/staff/signin?next=%2Fstaff%2Foffers")
    page.get_by_label("访问令牌").fill("not-a-token")
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_text("令牌无效")).to_be_visible()


def test_offer_arrives_on_the_phone_and_is_accepted_in_one_tap(stack, http, agent_on_duty, open_page):
    token, staff_id = agent_on_duty
    page = open_page(PHONE, name="flow2-staff-accepts-offer")
    sign_in(page, stack, AGENT)
    page.wait_for_url("**/staff/offers")
    expect(page.get_by_role("heading", name="我的派单")).to_be_visible()
    expect(page.locator("#offers-live")).to_be_visible(timeout=15000)  # the live stream answered

    r = post(http, stack, complaint(complainant={"outlet_id": OUTLET}))
    assert r.status_code == 201, r.text
    no = r.json()["complaint_no"]
    card = page.locator(f"li.offer[data-no='{no}']")
    expect(card).to_be_visible(timeout=30000)  # polled every 2 s; the pipeline offers it first
    page.screenshot(path=str(RESULTS / "flow2-offer-arrived.png"), full_page=True)
    card.get_by_role("button", name=f"接单 {no}").click()
    expect(page.locator("#offer-accepted")).to_contain_text(no)
    expect(card).to_have_count(0)
    expect(page.locator(".mine-list").get_by_role("link", name=no)).to_be_visible(timeout=15000)
    page.screenshot(path=str(RESULTS / "flow2-offer-accepted.png"), full_page=True)

    # the accept went to classification as this person, and the case is theirs everywhere
    wait_rows(stack, "SELECT 1 FROM intake.complaints WHERE complaint_no = %s AND owner_staff_id = %s",
              (no, staff_id))
    page.get_by_role("link", name="打开工单").click()
    page.wait_for_url(f"**/staff/case/{no}")
    expect(page.locator("#case-owner")).to_have_text(staff_id)
    assert page_errors(page) == []

    # the customer's status page names who handles it by first name and role only
    customer = open_page(PHONE, name="flow2-customer-sees-owner")
    link = urlsplit(r.json()["link"])
    customer.goto(f"{stack.base_url}{link.path}?{link.query}")
    expect(customer.locator("#case-owner")).to_have_text("小李（客服专员）")
    view = http.get(f"{stack.base_url}/v1/complaints/{no}?{link.query}").json()
    assert view["owner"] == {"first_name": "小李", "role": "agent"}
    assert staff_id not in customer.content()
    assert page_errors(customer) == []


def test_case_page_shows_the_case_and_takes_actions(stack, http, agent_on_duty, open_page):
    r = post(http, stack, complaint(complainant={"outlet_id": OUTLET},
                                    description="外箱破损，杯子碎了"))
    assert r.status_code == 201, r.text
    no = r.json()["complaint_no"]
    # accept over the API once it is offered; the page is about working the case
    wait_rows(stack, "SELECT 1 FROM classification.assignments a JOIN classification.offers o "
              "USING (complaint_id) WHERE a.complaint_no = %s AND o.staff_id = %s",
              (no, TOKENS[AGENT][1]))
    accept = http.post(f"{stack.base_url}/v1/complaints/{no}/accept", headers=stack.auth(AGENT))
    assert accept.status_code == 200, accept.text

    page = open_page(DESKTOP, name="case-page-actions")
    sign_in(page, stack, AGENT)
    page.wait_for_url("**/staff/offers")
    page.goto(f"{stack.base_url}/staff/case/{no}")
    expect(page.get_by_role("heading", name=f"工单 {no}")).to_be_visible()
    expect(page.get_by_text("外箱破损，杯子碎了")).to_be_visible()
    expect(page.locator("#case-owner")).to_have_text(TOKENS[AGENT][1])

    page.get_by_label("备注内容").fill("客户下午方便接电话")
    page.get_by_role("button", name="添加备注").click()
    expect(page.get_by_role("status").get_by_text("备注已添加")).to_be_visible()
    expect(page.locator(".notes").get_by_text("客户下午方便接电话")).to_be_visible()

    page.get_by_label("消息内容").fill("您好，我是您的投诉负责人，正在核实包裹情况。")
    page.get_by_role("button", name="发送给客户").click()
    expect(page.get_by_role("status").get_by_text("消息已发送给客户")).to_be_visible()
    # the message went out as this person's contact (followup -> cp.complaint.contacted -> intake)
    wait_rows(stack, "SELECT 1 FROM intake.timeline t JOIN intake.complaints c ON c.id = t.complaint_id "
              "WHERE c.complaint_no = %s AND t.step = 'contacted'", (no,))
    page.reload()
    expect(page.locator(".conversation").get_by_text("正在核实包裹情况")).to_be_visible()
    expect(page.locator(".timeline").get_by_text("负责人联系了您").first).to_be_visible()
    assert page_errors(page) == []

    # the queue lists it among the agent's own cases
    page.goto(f"{stack.base_url}/staff/queue?scope=mine")
    expect(page.get_by_role("link", name=no)).to_be_visible()
    # and through the filter form: all open cases of this owner at this waybill
    page.get_by_label("范围").select_option("all")
    page.get_by_label("负责人工号").fill(TOKENS[AGENT][1])
    page.get_by_label("运单号").fill(_waybill_of(stack, no))
    page.get_by_role("button", name="筛选").click()
    page.wait_for_url(f"**/staff/queue?*owner={TOKENS[AGENT][1]}*")
    expect(page.locator("table.queue tbody tr")).to_have_count(1)
    expect(page.get_by_role("link", name=no)).to_be_visible()


def test_supervisor_dashboard_draws_the_figures(stack, open_page):
    page = open_page(DESKTOP, name="supervisor-dashboard")
    sign_in(page, stack, "supervisor")
    page.wait_for_url("**/staff/offers")
    page.get_by_role("link", name="主管").click()
    expect(page.get_by_role("heading", name="服务指标")).to_be_visible()
    expect(page.locator("#kpi-received")).to_be_visible()
    expect(page.locator("#chart-compliance[data-ready='1'] svg")).to_be_visible()
    expect(page.locator("#chart-compliance")).to_contain_text("SLA")
    assert page_errors(page) == []


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["360px", "1440px"])
def test_staff_pages_have_no_serious_accessibility_violation(stack, http, agent_on_duty, open_page,
                                                             viewport):
    from console_browser import axe_violations, describe, overflows
    r = post(http, stack, complaint(complainant={"outlet_id": OUTLET}))
    no = r.json()["complaint_no"]
    page = open_page(viewport, name=f"axe-staff-{viewport['width']}")
    page.goto(f"{stack.base_url}/staff/signin")
    page.locator("main h1").wait_for()
    found = {"signin": axe_violations(page)}
    sign_in(page, stack, "supervisor")
    page.wait_for_url("**/staff/offers")
    waits = {"offers": ("/staff/offers", "main h1"), "queue": ("/staff/queue", "main h1"),
             "case": (f"/staff/case/{no}", "#case-status"),
             "supervisor": ("/staff/supervisor", "#chart-compliance[data-ready='1']"),
             "admin": ("/staff/admin", "table.registry")}
    for name, (path, ready) in waits.items():
        page.goto(stack.base_url + path)
        page.locator(ready).first.wait_for()
        found[name] = axe_violations(page)
        assert overflows(page) <= 0, f"{name} scrolls sideways at {viewport['width']} px"
    assert all(not v for v in found.values()), describe(found)


def _waybill_of(stack, no):
    return stack.db().execute("SELECT waybill_no FROM intake.complaints WHERE complaint_no = %s",
                              (no,)).fetchone()[0]


def _proposals(stack, http, no):
    r = http.get(f"{stack.base_url}/v1/complaints/{no}/proposals", headers=stack.auth("supervisor"))
    if r.status_code == 404:  # resolution has not read the complaint yet
        return []
    assert r.status_code == 200, r.text
    return r.json()["proposals"]


def _wait_plan(stack, http, no, statuses, timeout=30):
    import time
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        plans = _proposals(stack, http, no)
        seen = [p["status"] for p in plans]
        if any(p["status"] in statuses for p in plans):
            return plans
        time.sleep(0.3)
    raise AssertionError(f"no plan of {no} reached {statuses}; seen {seen}")


def test_agent_works_the_case_and_the_supervisor_approves_from_the_inbox(stack, http, agent_on_duty,
                                                                          browser):
    """Flow 3: the owner contacts the customer with a template, proposes compensation above an
    agent's authority and confirms responsibility; a supervisor approves it from the inbox."""
    r = post(http, stack, complaint(complainant={"outlet_id": OUTLET},
                                    description="外箱破损，杯子碎了，要求赔偿"))
    assert r.status_code == 201, r.text
    no = r.json()["complaint_no"]
    wait_rows(stack, "SELECT 1 FROM classification.assignments a JOIN classification.offers o "
              "USING (complaint_id) WHERE a.complaint_no = %s AND o.staff_id = %s",
              (no, TOKENS[AGENT][1]))
    assert http.post(f"{stack.base_url}/v1/complaints/{no}/accept",
                     headers=stack.auth(AGENT)).status_code == 200
    _wait_plan(stack, http, no, {"proposed"})

    RESULTS.mkdir(parents=True, exist_ok=True)
    agent_ctx = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    sup_ctx = browser.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True)
    try:
        page = watch(agent_ctx.new_page())
        page.set_default_timeout(15000)
        sign_in(page, stack, AGENT)
        page.wait_for_url("**/staff/offers")
        page.goto(f"{stack.base_url}/staff/case/{no}")
        expect(page.locator("#case-owner")).to_have_text(TOKENS[AGENT][1])
        status = page.get_by_role("status")

        # a standard template, in the customer's language, sent as this person's contact
        options = page.locator("#contact-template option").all_inner_texts()
        assert len(options) > 1, options
        page.get_by_label("模板").select_option(index=1)
        page.get_by_role("button", name="发送给客户").click()
        expect(status.get_by_text("消息已发送给客户")).to_be_visible()

        # compensation above an agent's authority (200 CNY) goes to a supervisor
        page.locator("details.amend summary").first.click()
        page.get_by_label("赔偿 (CNY)").fill("350")
        page.locator("details.amend textarea").fill("客户提供了购买凭证，实际价值 350 元")
        page.get_by_role("button", name="提交修改").click()
        expect(status.get_by_text("方案已修改")).to_be_visible()
        plans = _wait_plan(stack, http, no, {"pending_approval"})
        assert [p["total_fen"] for p in plans if p["status"] == "pending_approval"] == [35000]

        page.get_by_role("button", name="确认责任").click()
        expect(status.get_by_text("责任已确认")).to_be_visible()
        page.screenshot(path=str(RESULTS / "flow3-agent-case.png"), full_page=True)

        sup = watch(sup_ctx.new_page())
        sup.set_default_timeout(15000)
        sign_in(sup, stack, "supervisor")
        sup.wait_for_url("**/staff/offers")
        sup.goto(f"{stack.base_url}/staff/supervisor")
        approve = sup.get_by_role("button", name=f"批准 {no}")
        expect(approve).to_be_visible(timeout=20000)
        sup.screenshot(path=str(RESULTS / "flow3-supervisor-inbox.png"), full_page=True)
        # the amended plan in words: a proposal of 350 CNY awaiting the decision, its rule named
        item = sup.locator(".proposal", has=sup.get_by_role("link", name=no))
        expect(item).to_contain_text("拟赔付 ¥350.00（待决定）")
        expect(item).to_contain_text("负责人修改的方案")
        from test_console_labels import raw_codes
        assert raw_codes(item.inner_text()) == set(), item.inner_text()
        approve.click()
        expect(sup.get_by_role("status").get_by_text(f"{no}: 批准")).to_be_visible()
        plans = _wait_plan(stack, http, no, {"approved", "executing", "executed"})
        approved = [p for p in plans if p["status"] in ("approved", "executing", "executed")]
        assert approved[0]["approved_by"] == TOKENS["supervisor"][1]
        assert page_errors(page) == [] and page_errors(sup) == []
    except Exception:
        for name, ctx in (("flow3-agent", agent_ctx), ("flow3-supervisor", sup_ctx)):
            for i, pg in enumerate(ctx.pages):
                (RESULTS / f"{name}-{i}.html").write_text(pg.content())
                (RESULTS / f"{name}-{i}.console.log").write_text("\n".join(getattr(pg, "_cp_log", [])))
                pg.screenshot(path=str(RESULTS / f"{name}-{i}-failed.png"), full_page=True)
        raise
    finally:
        agent_ctx.close()
        sup_ctx.close()


def test_customer_answers_the_survey_from_the_link_and_the_dashboard_counts_it(
        stack, http, agent_on_duty, open_page):
    """Flow 4: a case worked to the end over the API (accepted, plan accepted by a supervisor,
    payout confirmed by finance); the customer answers the survey on the page the message links
    to; the case closes satisfied and the supervisor's dashboard counts the answer."""
    r = post(http, stack, complaint(complainant={"outlet_id": OUTLET}))
    assert r.status_code == 201, r.text
    no, link = r.json()["complaint_no"], r.json()["link"]
    token = link.split("token=")[1]
    wait_rows(stack, "SELECT 1 FROM classification.assignments a JOIN classification.offers o "
              "USING (complaint_id) WHERE a.complaint_no = %s AND o.staff_id = %s",
              (no, TOKENS[AGENT][1]))
    assert http.post(f"{stack.base_url}/v1/complaints/{no}/accept",
                     headers=stack.auth(AGENT)).status_code == 200
    plan = _wait_plan(stack, http, no, {"proposed"})[-1]
    # a supervisor accepts it (within their authority): resolution learns the owner through an
    # event, and this flow is about the customer's side
    ok = http.post(f"{stack.base_url}/v1/proposals/{plan['id']}/accept", json={},
                   headers=stack.auth("supervisor"))
    assert ok.status_code == 200, ok.text
    plans = _wait_plan(stack, http, no, {"executing"})
    for ex in [e for p in plans for e in p.get("executions") or []]:
        c = http.post(f"{stack.base_url}/v1/executions/{ex['id']}/confirm",
                      json={"status": "confirmed", "reference": "FIN-1"},
                      headers=stack.auth("integration"))
        assert c.status_code == 200, c.text
    # followup opens the survey when the plan is executed; intake shows awaiting_confirmation
    wait_rows(stack, "SELECT 1 FROM intake.complaints WHERE complaint_no = %s "
              "AND status = 'awaiting_confirmation'", (no,))

    page = open_page(PHONE, name="flow4-customer-survey")
    page.goto(f"{stack.base_url}/c/status/{no}?token={token}")
    # the decision in the customer's words: remedies by name, the amount in the page's format
    # (intake stores "compensation 120.00 CNY, apology")
    decision = page.locator("#case-decision")
    expect(decision).to_contain_text("赔偿 ¥120.00")
    assert not re.search(r"[a-z_]{2,}|CNY", decision.inner_text()), decision.inner_text()
    page.get_by_role("link", name="评价我们的服务").click()
    page.wait_for_url(f"**/c/survey/{no}?token={token}")
    page.get_by_label("5", exact=True).check()
    page.get_by_label("是", exact=True).check()
    page.get_by_label("还有什么想告诉我们的？").fill("处理很快，谢谢")
    page.get_by_role("button", name="提交评价").click()
    expect(page.get_by_role("heading", name="谢谢您的评价！")).to_be_visible()
    wait_rows(stack, "SELECT 1 FROM intake.complaints WHERE complaint_no = %s AND status = 'closed'",
              (no,))
    page.get_by_role("link", name="查看处理进度").click()
    expect(page.locator("#case-status")).to_have_text("已结案")
    expect(page.get_by_text("邮政管理局")).to_be_visible()
    assert page_errors(page) == []

    sup = open_page(DESKTOP, name="flow4-dashboard")
    sign_in(sup, stack, "supervisor")
    sup.wait_for_url("**/staff/offers")
    sup.goto(f"{stack.base_url}/staff/supervisor")
    expect(sup.locator("#chart-compliance[data-ready='1'] svg")).to_be_visible()
    answered = sup.locator("#kpi-csat-answered")
    expect(answered).not_to_have_text("0")


def test_admin_adds_a_member_to_the_staff_registry(stack, http, open_page):
    staff_id = f"T-ADM-{uuid.uuid4().hex[:6]}"
    page = open_page(PHONE, name="admin-registry")
    sign_in(page, stack, "admin")
    page.wait_for_url("**/staff/offers")
    page.goto(f"{stack.base_url}/staff/admin")
    page.locator("table.registry").wait_for()
    page.get_by_label("工号").fill(staff_id)
    page.get_by_label("网点").fill(OUTLET + "-ADM")
    page.get_by_label("角色").select_option("courier")
    page.get_by_label("纬度").fill("-40.0")
    page.get_by_label("经度").fill("170.0")
    page.get_by_label("在岗可派单").uncheck()  # never offered anything by other tests
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_role("status").get_by_text(f"已保存 {staff_id}")).to_be_visible()
    expect(page.locator(f"tr[data-staff='{staff_id}']")).to_contain_text("快递员")
    reg = http.get(f"{stack.base_url}/v1/staff-registry", headers=stack.auth("supervisor")).json()
    member = [m for m in reg["staff"] if m["staff_id"] == staff_id]
    assert member and member[0]["role"] == "courier" and member[0]["available"] is False
    assert page_errors(page) == []
