"""The job view follows a job by the chain's logs: it asks the node for the head every 250 ms
and, when blocks come, for the logs about the job in them (one eth_getLogs), reading the job
again only when one came — not every second — and shows each change as it is mined."""

from __future__ import annotations

import json

from eth_utils import keccak
from playwright.sync_api import expect

from tests.web.conftest import connect

JOB_READ = "0x" + keccak(text="job(uint256)")[:4].hex()  # JobMarket.job's selector


def rpc_calls(page) -> list[dict]:
    """Every JSON-RPC call the page sends to its node relay from now on."""
    calls: list[dict] = []

    def record(request):
        if request.method == "POST" and request.url.endswith("/rpc"):
            body = json.loads(request.post_data or "null")
            calls.extend(body if isinstance(body, list) else [body])

    page.on("request", record)
    return calls


def job_reads(calls: list[dict]) -> int:
    return sum(1 for call in calls if call["method"] == "eth_call"
               and (call["params"][0].get("data") or call["params"][0].get("input") or "").startswith(JOB_READ))


def test_the_job_view_reads_the_job_only_when_a_block_holds_news_of_it(
        plain_page, open_page, create_job, market, token, provider, offer_id, requester, deployer, chain, make_receipt, sign,
        registry, site_id):
    registry.set_endpoint(site_id, "", sender=provider)  # no worker: the page asks no endpoint about the delivered job
    job_id = create_job()
    page, _ = open_page(plain_page, requester)
    connect(page)
    calls = rpc_calls(page)
    page.goto(f"{plain_page}/#job/{job_id}")
    state = page.get_by_test_id("job-state")
    expect(state).to_contain_text("Posted: waiting for a provider")
    reads_when_shown = job_reads(calls)

    create_job()  # blocks with another job's logs and with no market logs at all
    token.transfer(deployer, 1, sender=requester)
    head = chain.blocks.height
    for _ in range(100):  # the page pumped while it reads those blocks' logs (its wallet answers only then)
        if any(call["method"] == "eth_getLogs" and int(call["params"][0]["toBlock"], 16) >= head for call in calls):
            break
        page.wait_for_timeout(100)
    else:
        raise AssertionError(f"the page never asked for the logs of blocks up to {head}")
    page.wait_for_timeout(1_500)  # the view redraws every second while open: from what it read
    assert job_reads(calls) == reads_when_shown

    market.accept(job_id, offer_id, sender=provider)
    expect(state).to_contain_text("Accepted")
    assert job_reads(calls) == reads_when_shown + 1
    chain.pending_timestamp += 60
    receipt = make_receipt(job_id)
    market.deliver(job_id, receipt.as_tuple(), sign(receipt), sender=provider)
    expect(state).to_have_text("Delivered.")
    expect(page.get_by_test_id("no-endpoint")).to_be_visible()  # and no request to an endpoint that is not there
    assert job_reads(calls) == reads_when_shown + 2
    assert page.errors == []
