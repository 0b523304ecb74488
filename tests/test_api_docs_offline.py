"""/docs on a machine with no internet: Chromium loads Swagger UI from the API itself (uvicorn on
127.0.0.1) with every request to another host refused, and the operations render."""
from __future__ import annotations

import os

import pytest

from api.main import create_app

CHROMIUM = "/usr/bin/chromium"
if not os.path.exists(CHROMIUM):
    pytest.skip(f"{CHROMIUM} is missing (make browser)", allow_module_level=True)

pytestmark = pytest.mark.browser


def test_swagger_ui_renders_with_the_network_cut_off(edb):
    from playwright.sync_api import sync_playwright
    from sandbox.razorpay_server import run_in_thread
    api = run_in_thread(create_app(db=edb))
    outside, local = [], []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox",
                                                                         "--disable-gpu"])
            page = browser.new_page()

            def only_local(route):
                if route.request.url.startswith(api.url + "/"):
                    local.append(route.request.url)
                    route.continue_()
                else:
                    outside.append(route.request.url)
                    route.abort()
            page.route("**/*", only_local)
            page.goto(api.url + "/docs")
            page.wait_for_selector(".opblock", timeout=30_000)
            operations = page.locator(".opblock").count()
            browser.close()
    finally:
        api.stop()
    assert outside == []
    assert any(u.endswith("swagger-ui-bundle.js") for u in local) and any(u.endswith("/openapi.json") for u in local)
    assert operations >= 15
