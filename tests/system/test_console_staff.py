"""The console's staff pages in real Chromium on the real stack: flow 2, a member of staff with
the offers page open on a phone (360 px) sees a new offer arrive and accepts it in one tap; the
case page shows the whole case and takes actions (note, message to the customer); the queue lists
the case; the supervisor's page draws the dashboard."""

import uuid

import pytest
import requests
from playwright.sync_api import expect

from console_browser import DESKTOP, PHONE, RESULTS, browser, open_page, page_errors  # noqa: F401
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
                                "available": True}, headers=stack.auth("admin"), timeout=10)
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

    r = post(http, stack, complaint(complainant={"outlet_id": OUTLET}))
    assert r.status_code == 201, r.text
    no = r.json()["complaint_no"]
    card = page.locator(f"li.offer[data-no='{no}']")
    expect(card).to_be_visible(timeout=30000)  # polled every 2 s; the pipeline offers it first
    page.screenshot(path=str(RESULTS / "flow2-offer-arrived.png"), full_page=True)
    card.get_by_role("button", name=f"接单 {no}").click()
    expect(page.locator("#offer-accepted")).to_contain_text(no)
    expect(card).to_have_count(0)

    # the accept went to classification as this person, and the case is theirs everywhere
    wait_rows(stack, "SELECT 1 FROM intake.complaints WHERE complaint_no = %s AND owner_staff_id = %s",
              (no, staff_id))
    page.get_by_role("link", name="打开工单").click()
    page.wait_for_url(f"**/staff/case/{no}")
    expect(page.locator("#case-owner")).to_have_text(staff_id)
    assert page_errors(page) == []


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
