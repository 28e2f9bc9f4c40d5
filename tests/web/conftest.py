"""The page as its users meet it: real `degen web`, worker and oracle processes on anvil,
Debian's chromium driven by Playwright, and a test wallet (tests/web/wallet.py) that signs
with Alice's or Bob's real key. Screenshots go to $DEGEN_SCREENSHOTS (default: docs/screenshots)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import httpx
import pytest

from degen import telemetry
from degen.processes import ROOT, degen, free_port
from degen.telemetry import MeterSample
from tests.daemons import api_url
from tests.web.wallet import TestWallet

SCREENSHOTS = Path(os.environ.get("DEGEN_SCREENSHOTS", ROOT / "docs" / "screenshots"))
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 800}


@pytest.fixture(scope="session")
def browser():
    """Headless Debian chromium (make test installs it), one per test process."""
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.fail("no chromium on PATH: `make test` installs Debian's (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"], headless=True)
        yield browser
        browser.close()


@pytest.fixture
def web_port():
    return free_port()


@pytest.fixture
def web_url(web_port):
    return f"http://127.0.0.1:{web_port}"


@pytest.fixture
def endpoint_origins(web_url):
    """A staged provider endpoint (tests/conftest.py) lets the page download across origins."""
    return [web_url]


@pytest.fixture
def oracle_url(start_oracle):
    return api_url(start_oracle())


@pytest.fixture
def start_web(processes, deployment_dir, web_port, web_url):
    """Starts `degen web` on `web_port` (with an oracle, if given)."""

    def start(oracle: str | None = None):
        args = ["web", "--port", str(web_port), "--network", "ethereum:local:foundry", "--deployments", str(deployment_dir)]
        process = processes(degen(*args, *(["--oracle", oracle] if oracle else [])))
        process.wait_for("web page on http://", timeout=60)
        return web_url

    return start


@pytest.fixture
def plain_page(start_web, offer_id):
    """`degen web` without an oracle, with Bob's plain offer on the market."""
    return start_web()


@pytest.fixture
def report_battery(registry, meter, chain, site_id):
    """Posts a signed meter sample of Bob's site to the oracle, as his site agent would."""

    def report(oracle: str, soc_permille: int = 655, pv_watts: int = 3_200, at: int | None = None, register_wh: int = 5_000):
        sample = MeterSample(site_id=site_id, timestamp=at or int(time.time()), pv_watts=pv_watts, register_wh=register_wh,
                             battery_soc_permille=soc_permille)
        signature = telemetry.sign(sample, meter, chain.chain_id, registry.address)
        assert httpx.post(f"{oracle}/samples", json=telemetry.body(sample, signature)).status_code == 201

    return report


@pytest.fixture
def open_page(browser, chain):
    """Opens the page at `url` for a wallet holding `account`'s key; console errors are collected."""
    contexts = []

    def open_(url: str, account, viewport=DESKTOP, chain_id: int | None = None):
        context = browser.new_context(viewport=viewport)
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.on("console", lambda message: message.type == "error" and page.errors.append(
            f"{message.text} ({message.location.get('url', '')})"))
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        wallet = TestWallet(account.private_key, chain.provider.uri, chain.chain_id, chain_id)
        wallet.install(page)
        page.goto(url)
        return page, wallet

    yield open_
    for context in contexts:
        context.close()


def connect(page) -> None:
    page.get_by_test_id("connect").click()
    page.get_by_test_id("account").wait_for()


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
