"""The QR code for a waybill's complaint page (intake: GET /v1/waybills/{no}/qr.svg and .png),
through the front door: the SVG is a QR symbol of a valid size, both images decode (jsQR from
npm, in Debian's chromium) to PUBLIC_BASE_URL/c/{waybill}, and a bad waybill is 422."""

import base64
import xml.etree.ElementTree as ET

from console_browser import ROOT, browser, open_page  # noqa: F401
from helpers import waybill

JSQR = ROOT / "services" / "console" / "node_modules" / "jsqr" / "dist" / "jsQR.js"
DECODE = """async ({src, size}) => {
    const img = new Image();
    img.width = size; img.height = size;
    await new Promise((ok, fail) => { img.onload = ok; img.onerror = fail; img.src = src; });
    const c = document.createElement('canvas');
    c.width = size; c.height = size;
    const g = c.getContext('2d');
    g.fillStyle = '#fff'; g.fillRect(0, 0, size, size);
    g.drawImage(img, 0, 0, size, size);
    const d = g.getImageData(0, 0, size, size);
    const code = jsQR(d.data, size, size);
    return code ? code.data : null;
}"""


def _target(stack, wb):
    base = stack.env_for("intake").get("PUBLIC_BASE_URL", "http://127.0.0.1:8080").rstrip("/")
    return f"{base}/c/{wb}"


def test_svg_is_a_qr_symbol_of_a_valid_size(stack, http):
    wb = waybill()
    r = http.get(f"{stack.base_url}/v1/waybills/{wb}/qr.svg")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("image/svg+xml")
    assert "max-age" in r.headers["Cache-Control"]
    root = ET.fromstring(r.content)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    x, y, w, h = (int(v) for v in root.get("viewBox").split())
    assert (x, y) == (0, 0) and w == h
    modules = w - 8  # 4 modules of quiet zone on each side
    assert modules >= 21 and (modules - 17) % 4 == 0, f"{modules} is no QR version's size"
    path = root.find("{http://www.w3.org/2000/svg}path")
    assert path is not None and path.get("d").startswith("M4 4h7v1h-7z")


def test_bad_waybill_or_scale_is_422(stack, http):
    for bad in ("sf123", "SF12345678901234567890X", "SF1234%2F567890"):
        r = http.get(f"{stack.base_url}/v1/waybills/{bad}/qr.svg")
        assert r.status_code in (404, 422), (bad, r.status_code)
    r = http.get(f"{stack.base_url}/v1/waybills/sf1234567890/qr.png")
    assert r.status_code == 422
    assert r.json()["fields"][0]["field"] == "waybill_no"
    r = http.get(f"{stack.base_url}/v1/waybills/{waybill()}/qr.png?scale=0")
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == "scale"


def test_both_images_decode_to_the_waybills_complaint_page(stack, http, open_page):
    wb = waybill()
    png = http.get(f"{stack.base_url}/v1/waybills/{wb}/qr.png?scale=6")
    assert png.status_code == 200 and png.headers["Content-Type"] == "image/png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
    svg = http.get(f"{stack.base_url}/v1/waybills/{wb}/qr.svg")
    page = open_page(name="qr-decode")
    page.set_content("<!doctype html><title>qr</title>")
    page.evaluate(JSQR.read_text())
    png_src = "data:image/png;base64," + base64.b64encode(png.content).decode()
    svg_src = "data:image/svg+xml;base64," + base64.b64encode(svg.content).decode()
    assert page.evaluate(DECODE, {"src": png_src, "size": 240}) == _target(stack, wb)
    assert page.evaluate(DECODE, {"src": svg_src, "size": 300}) == _target(stack, wb)
