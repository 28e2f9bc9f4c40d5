"""The page through a hosted provider (tests/rpc_proxy.py between `degen web`'s relay and
anvil: a 20-block `eth_getLogs` cap, a result cap, 429s and gateway timeouts) shows what it
shows against anvil, and a second visit reads only the blocks it has not kept."""

from __future__ import annotations

from playwright.sync_api import expect

from degen.processes import degen
from tests.rpc_proxy import HostedRpc
from tests.web.conftest import connect


def test_bobs_site_page_reads_its_history_through_a_capped_provider(processes, deployment_dir, web_port, web_url, chain,
                                                                     open_page, provider, site_id, issue_recs):
    for _ in range(6):
        issue_recs(site_id, 500_000)
    chain.mine(400)  # a history longer than one query may span
    hosted = HostedRpc(chain.provider.uri, max_range=20, max_results=4, requests_per_s=200, timeout_every=9)
    try:
        web = processes(degen("web", "--port", str(web_port), "--network", "ethereum:local:foundry",
                              "--deployments", str(deployment_dir)), {"APE_FOUNDRY_HOST": hosted.url})
        web.wait_for("web page on http://", timeout=60)
        page, _ = open_page(f"{web_url}/#site", provider)
        connect(page)
        expect(page.get_by_test_id(f"site-{site_id}")).to_contain_text(f"Site {site_id} (BR): active", timeout=60_000)
        expect(page.get_by_test_id("issuances").locator("tbody tr")).to_have_count(6, timeout=60_000)
        first_visit = hosted.log_queries
        assert hosted.refused["range"] > 0
        page.reload()
        expect(page.get_by_test_id("issuances").locator("tbody tr")).to_have_count(6, timeout=60_000)
        assert hosted.log_queries - first_visit < first_visit / 4  # the kept history is not read again
        assert page.errors == []
    finally:
        hosted.close()
