"""A real browser and a real HTTP server for the dashboard's browser tests.

Debian's Chromium and ChromeDriver (`apt-get install chromium chromium-driver`, which
`.ci/run` does when they are missing), driven by Selenium: nothing downloads a browser.
The app is served by uvicorn in a thread, so the browser talks HTTP to it as a user would.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver

from tests.helpers.paths import REPO
from tests.helpers.processes import free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = REPO / "build" / "test-artifacts"
# As the machine's probe starts it: no sandbox as root, and no background connections
# (the network is closed; Chromium would keep trying Google's hosts).
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,2200",
    # A person's browser, as far as the API can tell: a headless one's events never score.
    "--user-agent=Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/156.0.0.0 Safari/537.36",
)


@contextmanager
def chromium() -> Iterator[WebDriver]:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    assert not missing, (
        f"the dashboard's browser tests need Debian's Chromium: {', '.join(missing)} missing; "
        "install them with `apt-get install chromium chromium-driver` (.ci/run does)"
    )
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@contextmanager
def serving(app: FastAPI, port: int | None = None) -> Iterator[str]:
    """The app on a free localhost port, for as long as the block runs; its base URL."""
    port = port or free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the dashboard did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def console_errors(driver: WebDriver) -> list[str]:
    """What the page logged as errors (failed loads, exceptions, CSP violations)."""
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def until(check: Callable[[], Any], seconds: float = 20) -> Any:
    """Poll `check` until it returns something true, with a deadline: a page sends its
    events on its own schedule (timers, beacons as it goes), not when a test asks."""
    deadline = time.monotonic() + seconds
    while not (found := check()):
        assert time.monotonic() < deadline, "what the browser sends did not arrive in time"
        time.sleep(0.1)
    return found
