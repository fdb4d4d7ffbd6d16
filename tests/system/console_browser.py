"""Real Chromium (Debian's /usr/bin/chromium) driven by Playwright for Python, for the console's
browser tests (test_console_*.py). No browser is downloaded: Playwright's bundled driver talks to
the system chromium through executable_path.

    browser                   session fixture: one headless chromium for every console test
    open_page(viewport, name) fixture factory: a fresh context and page; on teardown it saves a
                              screenshot build/test-results/console/<name>.png and, when the test
                              failed, the page's HTML and its console log beside it
    axe_violations(page)      axe-core (services/console/node_modules) run in the page: the
                              violations of impact serious or critical

Console messages and CSP violations of every page are collected; `page_errors(page)` returns
them, so a test can assert that the Content-Security-Policy blocked nothing.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
from pathlib import Path

import pytest

from stack import BUILD, ROOT

CHROMIUM = os.environ.get("CP_CHROMIUM", "/usr/bin/chromium")
RESULTS = BUILD / "test-results" / "console"
AXE = ROOT / "services" / "console" / "node_modules" / "axe-core" / "axe.min.js"
# Chromium as the machine allows it: root without a sandbox, no GPU, and nothing that phones home
# (the network is closed; background requests would only fail, many at a time).
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        "--disable-dev-shm-usage"]
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1440, "height": 900}


_SHARED: dict = {}


def _close_browser():
    b, pw = _SHARED.pop("browser", None), _SHARED.pop("pw", None)
    with contextlib.suppress(Exception):
        b and b.close()
    with contextlib.suppress(Exception):
        pw and pw.stop()


@pytest.fixture(scope="session")
def browser():
    """One chromium for the whole session. Each test module imports this fixture, which makes a
    fixture definition per module; Playwright's sync API allows one instance per thread, so the
    browser is kept here and closed when the interpreter exits."""
    if "browser" not in _SHARED:
        if not Path(CHROMIUM).exists():
            pytest.fail(f"{CHROMIUM} is missing: deploy/scripts/deps.sh installs Debian's chromium")
        from playwright.sync_api import sync_playwright
        _SHARED["pw"] = sync_playwright().start()
        _SHARED["browser"] = _SHARED["pw"].chromium.launch(executable_path=CHROMIUM, args=ARGS,
                                                           headless=True)
        atexit.register(_close_browser)
    yield _SHARED["browser"]


@pytest.fixture
def open_page(browser, request):
    opened = []

    def make(viewport=PHONE, name=None, locale="zh-CN"):
        ctx = browser.new_context(viewport=viewport, locale=locale, device_scale_factor=1,
                                  is_mobile=viewport["width"] < 600,
                                  has_touch=viewport["width"] < 600)
        ctx.set_default_timeout(15000)
        page = watch(ctx.new_page())
        opened.append((ctx, page, name))
        return page

    failed_before = request.session.testsfailed
    yield make
    failed = request.session.testsfailed > failed_before
    RESULTS.mkdir(parents=True, exist_ok=True)
    for i, (ctx, page, name) in enumerate(opened):
        # the name the test gave the page, else the test's own (numbered when it opened several)
        stem = RESULTS / (name or (request.node.name if len(opened) == 1 else f"{request.node.name}-{i}"))
        try:
            from playwright.sync_api import TimeoutError as PlaywrightTimeout
            try:
                page.screenshot(path=f"{stem}.png", full_page=True)
            except PlaywrightTimeout:
                # a long page (the admin tables) on a busy machine: the record is a screenshot
                # of the viewport rather than a teardown error of a test that passed
                page.screenshot(path=f"{stem}.png", timeout=30000)
            if failed:
                Path(f"{stem}.html").write_text(page.content())
                Path(f"{stem}.console.log").write_text("\n".join(page._cp_log) + "\n")
        finally:
            ctx.close()


def watch(page):
    """Records the page's console messages, script errors and failed requests (page_errors)."""
    page._cp_log = []
    page.on("console", lambda m: page._cp_log.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: page._cp_log.append(f"pageerror: {e}"))
    page.on("requestfailed", lambda r: page._cp_log.append(f"requestfailed: {r.url} {r.failure}"))
    return page


def page_errors(page) -> list[str]:
    """Errors the page logged: script errors, failed requests, CSP violations."""
    # a request cut short by leaving the page (a poll in flight) is no error
    return [m for m in page._cp_log
            if (m.startswith(("error:", "pageerror:", "requestfailed:")) and "ERR_ABORTED" not in m)
            or "Content Security Policy" in m]


def axe_violations(page, impacts=("serious", "critical")) -> list[dict]:
    """Runs axe-core in the page. It is evaluated through the DevTools protocol, which the page's
    CSP does not govern, so the policy stays as strict as it is for users."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run deploy/scripts/deps.sh (npm ci in services/console)")
    page.evaluate(AXE.read_text())
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                        nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}));
    }""")
    return [v for v in result if v["impact"] in impacts]


def overflows(page) -> int:
    """How many CSS pixels the page is wider than the viewport (0 when nothing scrolls
    sideways: every page must work at 360 px)."""
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


def describe(violations: list[dict]) -> str:
    return json.dumps(violations, ensure_ascii=False, indent=1)
