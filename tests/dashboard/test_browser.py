"""The dashboard in Debian's headless Chromium: sign-in is required, pages load with the
data, the charts draw, nothing errors in the console, both languages, a lead's live
journey; a screenshot of the product page is kept in build/test-artifacts/."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as seen
from selenium.webdriver.support.ui import WebDriverWait
from temporalio.client import Client
from temporalio.worker import Worker

from nurture.api.app import create_app
from nurture.api.auth import create_api_key
from nurture.config import Settings
from nurture.journey.client import start_journey
from nurture.store.engine import Store
from nurture.store.models import StageChange, Transition
from tests.helpers.analytics import ab_arms, sent_row
from tests.helpers.browser import ARTIFACTS, chromium, console_errors, serving
from tests.helpers.journeys import make_lead

# Each chart's datasets as the page holds them, and how much of its canvas has ink.
DRAWN = """
return Array.from(document.querySelectorAll('canvas')).map(function (canvas) {
  var chart = Chart.getChart(canvas);
  var pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  var ink = 0;
  for (var i = 3; i < pixels.length; i += 4) { if (pixels[i] > 0) { ink++; } }
  return {id: canvas.id || canvas.className,
          data: chart ? chart.data.datasets.map(function (d) { return d.data; }) : null,
          ink: ink};
});
"""


def seed(store: Store) -> str:
    """A month of acme: a won A/B test on the guide, and one lead's journey moving to sales."""
    at = datetime.now(UTC) - timedelta(days=3)
    ab_arms(store, (5, 40), per_arm=100, at=at)
    lead = make_lead(store, email="kato@example.jp", company="Kato Seiki")
    journey_id = f"journey:acme:{lead.id}"
    with store.session() as session:
        session.add(sent_row("b1", lead.id, at, subject="Welcome"))
        for seq, (before, to, day) in enumerate(
            [(None, "cold", 0), ("cold", "warm", 1), ("warm", "hot", 2)], start=1
        ):
            moved = at + timedelta(days=day)
            session.add(StageChange(journey_id=journey_id, seq=seq, lead_id=lead.id,
                                    product="acme", from_stage=before, to_stage=to, score=20 * seq,
                                    track="cold", journey_time=moved))  # fmt: skip
        session.add(Transition(journey_id=journey_id, seq=1, lead_id=lead.id, product="acme",
                               to_lifecycle="handed_off", stage="hot", score=60, actor="journey",
                               reason="score 60", journey_time=at + timedelta(days=2)))  # fmt: skip
    return lead.id


def browse(base: str, key: str, lead_id: str) -> None:
    with chromium() as driver:
        wait = WebDriverWait(driver, 20)
        driver.get(f"{base}/dashboard/products/acme")
        assert "/dashboard/login" in driver.current_url  # the login is required
        sign_in(driver, "nk_not-a-key")
        assert "unknown, revoked" in driver.find_element(By.CSS_SELECTOR, ".error").text
        [refused] = console_errors(driver)  # the browser saw the 401 (and the log is read)
        assert "status of 401" in refused
        sign_in(driver, key)
        wait.until(seen.url_contains("/dashboard/products/acme"))  # back where it was going
        product_page(driver, wait)
        driver.get(f"{base}/dashboard")
        products = driver.find_element(By.ID, "products").text
        assert "acme" in products and "201" in products  # 201 emails sent
        driver.find_element(By.LINK_TEXT, "English").click()
        driver.get(f"{base}/dashboard/leads/{lead_id}")
        lead_page(driver)
        driver.get(f"{base}/dashboard/products/acme?lang=ja")
        assert driver.find_element(By.CSS_SELECTOR, "#funnel h2").text == "トラック別ファネル"
        assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "ja"
        wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-charts-drawn"))
        assert console_errors(driver) == []
        driver.find_element(By.CSS_SELECTOR, "form[action='/dashboard/logout'] button").click()
        wait.until(seen.url_contains("/dashboard/login"))
        driver.get(f"{base}/dashboard")
        assert "/dashboard/login" in driver.current_url


def sign_in(driver: WebDriver, key: str) -> None:
    field = driver.find_element(By.NAME, "key")
    field.clear()
    field.send_keys(key)
    driver.find_element(By.CSS_SELECTOR, "#login button").click()


def product_page(driver: WebDriver, wait: WebDriverWait[WebDriver]) -> None:
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-charts-drawn"))
    charts = {c["id"]: c for c in driver.execute_script(DRAWN)}
    assert charts["funnel-chart"]["data"][0][:3] == [201, 1, 200]  # entered, welcome, guide
    # cold, warm, hot at each week's end: the lead moved cold → warm → hot in one week
    assert [series[-1] for series in charts["stage-flow-chart"]["data"]] == [0, 0, 1]
    opens, clicks = charts["engagement-chart"]["data"]
    assert opens == clicks == [5, 40, 0]  # % of guide A, guide B, welcome
    assert all(c["ink"] > 500 for c in charts.values()), charts  # each chart drew
    ab = driver.find_element(By.CSS_SELECTOR, "#ab article").text
    assert "cold/guide" in ab and "winner (B)" in ab
    assert "Kato Seiki" in driver.find_element(By.ID, "leads").text
    assert driver.find_elements(By.CSS_SELECTOR, "#send-time td.heat-5")  # the busiest hour
    assert console_errors(driver) == []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "dashboard-product.png"
    driver.find_element(By.TAG_NAME, "body").screenshot(str(shot))
    assert shot.stat().st_size > 20_000


def lead_page(driver: WebDriver) -> None:
    journeys = driver.find_element(By.ID, "journeys").text
    assert "Stage: cold" in journeys and "Lifecycle: nurturing" in journeys  # live, from Temporal
    link = driver.find_element(By.LINK_TEXT, "Open in the Temporal UI").get_attribute("href")
    assert link is not None and link.endswith("/workflows/journey:acme:" + link.split(":")[-1])
    timeline = driver.find_element(By.ID, "timeline").text
    assert "warm → hot (score 60, track cold)" in timeline
    assert "start → handed_off by journey: score 60" in timeline
    assert console_errors(driver) == []


async def test_the_dashboard_in_chromium(
    client: Client, settings: Settings, store: Store, worker: Worker
) -> None:
    lead_id = seed(store)
    lead = store.get_lead(lead_id)
    assert lead is not None
    assert (await start_journey(client, settings, store, lead, "acme")).started
    key = create_api_key(store, "ops", ["admin"])
    settings.temporal_address = client.service_client.config.target_host
    with serving(create_app(settings, relay=False)) as base:
        # The browser waits on the server; the journey's worker runs on this loop meanwhile.
        await asyncio.to_thread(browse, base, key, lead_id)
