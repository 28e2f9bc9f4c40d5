"""What the page says where there is nothing to show: an accepted job whose site publishes no
endpoint, one its worker holds back (and why), and a site without a battery."""

from __future__ import annotations

from playwright.sync_api import expect

from degen import telemetry
from tests.web.conftest import connect

WAITING = "RECs short by 15 mWh; buying them from the pool is off (no [green] section)"


def test_the_page_says_why_an_accepted_job_waits_and_shows_a_site_without_battery(
        open_page, start_web, oracle_url, report_battery, provider_endpoint, create_job, market, registry, provider, requester,
        offer_id, site_id):
    report_battery(oracle_url, soc_permille=telemetry.NO_BATTERY, pv_watts=2_000)
    url = start_web(oracle_url)
    registry.set_endpoint(site_id, "", sender=provider)
    job_id = create_job()
    market.accept(job_id, offer_id, sender=provider)
    page, _ = open_page(url, requester)
    connect(page)
    row = page.locator(f"tr[data-offer='{offer_id}']")
    expect(row.get_by_test_id("battery")).to_have_text("no battery")
    expect(row).to_contain_text("2,000 W")

    page.goto(f"{url}/#job/{job_id}")
    expect(page.get_by_test_id("job-state")).to_contain_text(
        "Accepted, but the provider's site publishes no result endpoint: its progress cannot be shown")
    registry.set_endpoint(site_id, provider_endpoint.url, sender=provider)
    provider_endpoint.progress[job_id] = {"job_id": job_id, "state": "generated", "waiting": WAITING}
    page.reload()
    expect(page.get_by_test_id("job-state")).to_have_text(f"Accepted, waiting: {WAITING}")
    assert page.errors == []
