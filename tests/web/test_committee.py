"""The oracle committee on the page: Bob's pending site says what the members check before
they attest it, then which members activated it and attested each REC issuance; Alice's
disputed job names the members who signed its verdict. Reports are signed by three real keys
of a 2-of-3 committee and submitted to the real OracleCommittee on anvil."""

from __future__ import annotations

from eth_account import Account
from playwright.sync_api import expect

from degen import committee as reports
from degen import eip712
from degen.committee import IssuanceRequest
from degen.models import JobState
from tests.daemons import seat_committee
from tests.web.conftest import connect

KEYS = [Account.from_key(bytes([0x60 + n]) * 32) for n in range(3)]
ENDPOINTS = [f"https://oracle-{n + 1}.example.org" for n in range(3)]


def short(address: str) -> str:
    return f"{address[:6]}…{address[-4:]}"


def named(*members: int) -> str:
    """Members as the page names them, in signer order (ascending addresses)."""
    chosen = sorted(members, key=lambda n: int(KEYS[n].address, 16))
    return ", ".join(f"{short(KEYS[n].address)} ({ENDPOINTS[n][8:]})" for n in chosen)


def submit(committee, function: str, typed: dict, members: tuple[int, ...], sender) -> None:
    signatures = reports.ordered({KEYS[n].address: eip712.sign(typed, KEYS[n].key) for n in members})
    getattr(committee, function)(reports.as_arguments(typed), signatures, sender=sender)


def test_the_page_names_the_members_who_attested_a_site_its_recs_and_a_verdict(
        plain_page, open_page, contracts, deployer, govern, provider, requester, registry, market, chain,
        delivered_job, provider_endpoint, offer_id):
    committee = contracts.committee
    seat_committee(contracts, deployer, govern, list(zip((k.address for k in KEYS), ENDPOINTS)), 2)
    meter = Account.create()
    site_id = registry.register_site(meter.address, 8_000, 0, 300, "DE", sender=provider).return_value
    page, _ = open_page(f"{plain_page}/#site", provider)
    connect(page)
    expect(page.get_by_test_id(f"attested-{site_id}")).to_contain_text("Waiting for the oracle committee: its members check")

    site = registry.site(site_id)
    activation = reports.site_report(committee.config_count(), site_id, committee.site_nonce(site_id), True, meter=meter.address,
                                     pv_peak_watts=site.pv_peak_watts, battery_wh=site.battery_wh,
                                     max_gpu_watts=site.max_gpu_watts, chain_id=chain.chain_id, committee=committee.address)
    submit(committee, "decide_site", activation, (0, 2), sender=requester)  # anyone submits a complete report
    start = chain.pending_timestamp - 7_200
    issuance = reports.issuance_report(committee.config_count(), [IssuanceRequest(site_id, start, start + 3600, 2_500_000, b"\x01" * 32)],
                                       chain.chain_id, committee.address)
    submit(committee, "issue", issuance, (1, 2), sender=provider)
    page.reload()  # the page reconnects the wallet it remembers
    expect(page.get_by_test_id(f"attested-{site_id}")).to_have_text(f"Activated by the oracle committee, attested by {named(0, 2)}.")
    expect(page.get_by_test_id("issuances").locator("tbody tr").first).to_contain_text(f"2.5 REC{named(1, 2)}")

    registry.set_endpoint(market.offer(offer_id).site_id, provider_endpoint.url, sender=provider)
    job_id = delivered_job()
    provider_endpoint.progress[job_id] = {"job_id": job_id, "state": "delivered"}
    contracts.token.approve(market, market.dispute_bond(), sender=requester)
    market.dispute(job_id, sender=requester)
    verdict = reports.verdict_report(committee.config_count(), job_id, False, chain.chain_id, committee.address)
    submit(committee, "resolve", verdict, (0, 1), sender=deployer)
    assert market.job(job_id).state == JobState.REFUNDED
    job_page, _ = open_page(f"{plain_page}/#job/{job_id}", requester)
    connect(job_page)
    expect(job_page.get_by_test_id("verdict")).to_have_text(
        f"Dispute decided for the requester by the oracle committee, attested by {named(0, 1)}.")
    no_receipt = f"404 (Not Found) ({provider_endpoint.url}/receipts/{job_id})"  # the staged endpoint publishes none
    assert page.errors == [] and [error for error in job_page.errors if not error.endswith(no_receipt)] == []
