"""The demo page of `automl serve` in headless Chromium: upload a PNG, read the class."""

import json
import shutil
import socket
import threading
import time

import pytest

from conftest import invoke
from test_serve import _pngs

uvicorn = pytest.importorskip("uvicorn", reason="the serve extra is not installed")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from automl.server.app import create_app  # noqa: E402
from automl.server.models import load_models  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


@pytest.fixture
def served(image_run):
    """A real server (uvicorn, in a thread) on a free loopback port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = create_app(load_models({"glyphs": image_run}))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/"
    server.should_exit = True
    thread.join(30)


@pytest.mark.skipif(not (CHROMIUM and DRIVER),
                    reason="headless Chromium or chromedriver is not installed (Debian: "
                           "apt-get install chromium chromium-driver; .ci/run does)")
def test_the_demo_page_shows_the_class_of_an_uploaded_png(served, image_run, tmp_path):
    png = _pngs(image_run)[0]
    expected = json.loads(invoke("predict", image_run, png, "--json").output)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=900,900"):
        options.add_argument(flag)
    browser = webdriver.Chrome(options=options, service=webdriver.ChromeService(DRIVER))
    try:
        browser.get(served)
        wait = WebDriverWait(browser, 60)
        wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#model option"))
        browser.find_element(By.ID, "file").send_keys(png)
        wait.until(lambda b: b.find_element(By.ID, "top").text.strip())
        shown = browser.find_element(By.ID, "top").text.strip()
        rows = browser.find_elements(By.CSS_SELECTOR, "#result .row")
        browser.save_screenshot(str(tmp_path / "serve_demo.png"))
    finally:
        browser.quit()
    assert shown == expected[0]["predictions"][0]["label"]
    assert len(rows) == 3
    assert (tmp_path / "serve_demo.png").stat().st_size > 0
