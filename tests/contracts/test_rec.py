"""RECToken issuance and retirement, and the soulbound certificates it mints."""

import base64
import json

import pytest
from eth_abi import encode as abi_encode
from eth_utils import function_signature_to_4byte_selector
from hypothesis import HealthCheck, given, settings, strategies as st

from tests.conftest import EVIDENCE_ROOT, PV_PEAK_WATTS

HOUR = 3600
# The most a 10 kW array makes in an hour, in mWh.
HOUR_AT_PEAK = PV_PEAK_WATTS * HOUR * 1000 // 3600


@pytest.fixture
def hour_ago(chain):
    return chain.pending_timestamp - 2 * HOUR


def test_issue_mints_to_the_site_owner(rec, deployer, provider, site_id, hour_ago):
    tx = rec.issue(site_id, hour_ago, hour_ago + HOUR, 5_000_000, EVIDENCE_ROOT, sender=deployer)
    issuance_id = tx.return_value
    event = tx.decode_logs(rec.Issued)[0]
    assert (event.issuance_id, event.site_id, event.owner) == (issuance_id, site_id, provider.address)
    assert (event.period_start, event.period_end, event.energy_mwh) == (hour_ago, hour_ago + HOUR, 5_000_000)
    assert event.evidence_root == EVIDENCE_ROOT
    record = rec.issuance(issuance_id)
    assert (record.site_id, record.energy_mwh, record.issued_at) == (site_id, 5_000_000, tx.timestamp)
    assert rec.balanceOf(provider) == 5_000_000 and rec.totalSupply() == 5_000_000
    assert rec.site_issued(site_id) == 5_000_000 and rec.total_issued() == 5_000_000
    assert rec.high_water_mark(site_id) == hour_ago + HOUR and rec.total_retired() == 0
    assert (rec.decimals(), rec.symbol()) == (6, "REC")


def test_no_period_is_issued_twice(rec, deployer, site_id, hour_ago, reverts):
    rec.issue(site_id, hour_ago, hour_ago + HOUR, 1_000, EVIDENCE_ROOT, sender=deployer)
    with reverts("rec: period overlaps"):
        rec.issue(site_id, hour_ago, hour_ago + HOUR, 1_000, EVIDENCE_ROOT, sender=deployer)
    with reverts("rec: period overlaps"):
        rec.issue(site_id, hour_ago + HOUR - 1, hour_ago + HOUR + 60, 1_000, EVIDENCE_ROOT, sender=deployer)
    with reverts("rec: period overlaps"):
        rec.issue(site_id, hour_ago - HOUR, hour_ago, 1_000, EVIDENCE_ROOT, sender=deployer)
    rec.issue(site_id, hour_ago + HOUR, hour_ago + HOUR + 60, 1_000, EVIDENCE_ROOT, sender=deployer)


def test_batch_issues_many_sites(rec, registry, deployer, provider, site_id, hour_ago):
    other = registry.register_site("0x" + "66" * 20, 5_000, 0, 300, "SG", sender=provider).return_value
    registry.activate(other, sender=deployer)
    requests = [
        (site_id, hour_ago, hour_ago + 1_800, 1_000, EVIDENCE_ROOT),
        (other, hour_ago, hour_ago + HOUR, 2_000, EVIDENCE_ROOT),
        (site_id, hour_ago + 1_800, hour_ago + HOUR, 3_000, EVIDENCE_ROOT),
    ]
    tx = rec.issue_batch(requests, sender=deployer)
    assert list(tx.return_value) == [1, 2, 3]
    assert rec.site_issued(site_id) == 4_000 and rec.site_issued(other) == 2_000
    assert rec.balanceOf(provider) == 6_000


def test_batch_with_a_duplicate_issues_nothing(rec, deployer, site_id, hour_ago, reverts):
    request = (site_id, hour_ago, hour_ago + HOUR, 1_000, EVIDENCE_ROOT)
    with reverts("rec: period overlaps"):
        rec.issue_batch([request, request], sender=deployer)
    assert rec.issuance_count() == 0 and rec.totalSupply() == 0


def test_energy_is_bounded_by_the_pv_peak(rec, deployer, site_id, hour_ago, reverts):
    with reverts("rec: energy above physical bound"):
        rec.issue(site_id, hour_ago, hour_ago + HOUR, HOUR_AT_PEAK + 1, EVIDENCE_ROOT, sender=deployer)
    rec.issue(site_id, hour_ago, hour_ago + HOUR, HOUR_AT_PEAK, EVIDENCE_ROOT, sender=deployer)


@pytest.mark.parametrize(
    "start, end, energy, root, message",
    [
        (0, HOUR, 0, EVIDENCE_ROOT, "rec: bad energy"),
        (0, HOUR, 1, b"\x00" * 32, "rec: empty evidence"),
        (HOUR, HOUR, 1, EVIDENCE_ROOT, "rec: empty period"),
        (0, 4 * HOUR, 1, EVIDENCE_ROOT, "rec: period not over"),
        (-32 * 86400, -1, 1, EVIDENCE_ROOT, "rec: period too long"),
    ],
)
def test_issue_refuses_bad_periods(start, end, energy, root, message, rec, deployer, site_id, hour_ago, reverts):
    with reverts(message):
        rec.issue(site_id, hour_ago + start, hour_ago + end, energy, root, sender=deployer)


def test_only_the_issuer_issues_for_active_sites(rec, registry, deployer, attacker, provider, site_id, hour_ago, reverts):
    with reverts("access_control: account is missing role"):
        rec.issue(site_id, hour_ago, hour_ago + HOUR, 1, EVIDENCE_ROOT, sender=attacker)
    with reverts("access_control: account is missing role"):
        rec.issue_batch([(site_id, hour_ago, hour_ago + HOUR, 1, EVIDENCE_ROOT)], sender=provider)
    registry.suspend(site_id, sender=deployer)
    with reverts("rec: site not active"):
        rec.issue(site_id, hour_ago, hour_ago + HOUR, 1, EVIDENCE_ROOT, sender=deployer)
    pending = registry.register_site("0x" + "77" * 20, 5_000, 0, 300, "SG", sender=provider).return_value
    with reverts("rec: site not active"):
        rec.issue(pending, hour_ago, hour_ago + HOUR, 1, EVIDENCE_ROOT, sender=deployer)


def test_retire_burns_and_certifies(rec, certificate, issue_recs, site_id, provider, requester, reverts):
    issue_recs(site_id, 10_000)
    tx = rec.retire(4_000, requester, "Alice", "Q3 office compute", sender=provider)
    cert_id = tx.return_value
    event = tx.decode_logs(rec.Retired)[0]
    assert (event.certificate_id, event.retired_by, event.beneficiary, event.amount_mwh) == (
        cert_id, provider.address, requester.address, 4_000)
    assert rec.balanceOf(provider) == 6_000 and rec.totalSupply() == 6_000
    assert rec.total_issued() - rec.total_retired() == rec.totalSupply()
    record = certificate.certificate(cert_id)
    assert (record.beneficiary, record.amount_mwh, record.retired_by, record.job_id) == (
        requester.address, 4_000, provider.address, 0)
    assert (record.beneficiary_name, record.reason, record.retired_at) == ("Alice", "Q3 office compute", tx.timestamp)
    assert certificate.ownerOf(cert_id) == requester.address and certificate.balanceOf(requester) == 1
    with reverts("erc20: burn amount exceeds balance"):
        rec.retire(6_001, requester, "", "", sender=provider)
    with reverts("rec: below minimum retirement"):
        rec.retire(0, requester, "", "", sender=provider)


def test_retire_from_needs_allowance(rec, certificate, issue_recs, site_id, provider, requester, attacker, reverts):
    issue_recs(site_id, 10_000)
    with reverts("erc20: insufficient allowance"):
        rec.retire_from(provider, 1_000, attacker, "", "", sender=attacker)
    rec.approve(attacker, 1_000, sender=provider)
    cert_id = rec.retire_from(provider, 1_000, requester, "", "", sender=attacker).return_value
    record = certificate.certificate(cert_id)
    assert record.retired_by == provider.address and record.job_id == 0
    assert rec.allowance(provider, attacker) == 0


def test_only_the_market_names_a_job_on_a_certificate(rec, market, issue_recs, site_id, provider, attacker, reverts):
    """Holders retire without a job; a job id comes only from the market's green delivery."""
    issue_recs(site_id, 10_000)
    rec.approve(attacker, 10_000, sender=provider)
    with reverts("access_control: account is missing role"):
        rec.retire_for_job(provider, 1_000, attacker, 7, sender=attacker)
    with reverts("access_control: account is missing role"):
        rec.retire_for_job(provider, 1_000, provider, 7, sender=provider)
    assert rec.hasRole(rec.MARKET_ROLE(), market) and not rec.hasRole(rec.MARKET_ROLE(), attacker)
    assert rec.balanceOf(provider) == 10_000


@pytest.mark.parametrize("text", ['say "hi"', "back\\slash", "new\nline", "del\x7f", "caf\u00e9", "\U0001f600"])
def test_certificate_text_stays_valid_json(text, rec, issue_recs, site_id, provider, requester, reverts):
    issue_recs(site_id, 10_000)
    with reverts("certificate: bad character"):
        rec.retire(1_000, requester, text, "", sender=provider)
    with reverts("certificate: bad character"):
        rec.retire(1_000, requester, "", text, sender=provider)


def uri_fields(certificate, cert_id) -> dict:
    prefix = "data:application/json;base64,"
    uri = certificate.tokenURI(cert_id)
    assert uri.startswith(prefix)
    document = json.loads(base64.b64decode(uri[len(prefix):]))
    return document | {a["trait_type"]: a["value"] for a in document["attributes"]}


PRINTABLE = set(range(0x20, 0x7F)) - {ord('"'), ord("\\")}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.one_of(st.binary(max_size=64), st.text(max_size=20).map(lambda t: t.encode()[:64]),
                      st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=64).map(str.encode)))
def test_every_accepted_name_renders_as_valid_json_with_the_same_fields(name, rec, certificate, issue_recs, site_id,
                                                                        provider, requester):
    """Sent as raw bytes (invalid UTF-8 included): a name is accepted exactly when it is
    printable ASCII without quotes or backslashes, and then `tokenURI` is JSON that says it."""
    if rec.balanceOf(provider) < 1_000:
        issue_recs(site_id, 1_000_000)
    selector = function_signature_to_4byte_selector("retire(uint256,address,string,string)")
    data = selector + abi_encode(["uint256", "address", "bytes", "bytes"], [1_000, requester.address, name, b"offset"])
    web3 = rec.provider.web3
    receipt = web3.eth.wait_for_transaction_receipt(
        web3.eth.send_transaction({"from": provider.address, "to": rec.address, "data": data, "gas": 1_000_000}))
    assert (receipt.status == 1) == (set(name) <= PRINTABLE)
    if receipt.status == 1:
        cert_id = certificate.totalSupply()
        fields = uri_fields(certificate, cert_id)
        assert fields["beneficiary_name"] == name.decode("ascii") and fields["reason"] == "offset"
        assert (fields["amount_mwh"], fields["beneficiary"]) == (1_000, requester.address.lower())


def test_certificates_are_soulbound(rec, certificate, issue_recs, site_id, provider, requester, attacker, reverts):
    issue_recs(site_id, 10_000)
    cert_id = rec.retire(1_000, requester, "", "", sender=provider).return_value
    assert certificate.locked(cert_id)
    with reverts("certificate: soulbound"):
        certificate.transferFrom(requester, attacker, cert_id, sender=requester)
    with reverts("certificate: soulbound"):
        certificate.safeTransferFrom(requester, attacker, cert_id, sender=requester)
    with reverts("certificate: soulbound"):
        certificate.safeTransferFrom(requester, attacker, cert_id, b"data", sender=requester)
    with reverts("certificate: soulbound"):
        certificate.approve(attacker, cert_id, sender=requester)
    with reverts("certificate: soulbound"):
        certificate.setApprovalForAll(attacker, True, sender=requester)
    assert certificate.getApproved(cert_id) == "0x" + "00" * 20
    assert not certificate.isApprovedForAll(requester, attacker)
    assert certificate.ownerOf(cert_id) == requester.address
    for interface_id in ("0x01ffc9a7", "0x80ac58cd", "0x5b5e139f", "0xb45a3c0e"):
        assert certificate.supportsInterface(interface_id)
    assert not certificate.supportsInterface("0xffffffff")
    with reverts("certificate: unknown id"):
        certificate.ownerOf(cert_id + 1)
    with reverts("certificate: unknown id"):
        certificate.locked(cert_id + 1)


def test_token_uri_is_base64_json(rec, certificate, issue_recs, site_id, provider, requester):
    issue_recs(site_id, 10_000)
    cert_id = rec.retire(2_500, requester, "Alice", "fox picture", sender=provider).return_value
    fields = uri_fields(certificate, cert_id)
    assert fields.pop("name") == f"DeGEN retirement #{cert_id}"
    fields.pop("description"), fields.pop("attributes")
    assert fields == {
        "beneficiary": requester.address.lower(), "beneficiary_name": "Alice", "amount_mwh": 2_500,
        "retired_at": certificate.certificate(cert_id).retired_at, "retired_by": provider.address.lower(),
        "reason": "fox picture", "job_id": 0,
    }


def test_only_rec_token_mints_certificates(certificate, rec, deployer, attacker, requester, reverts):
    with reverts("certificate: not minter"):
        certificate.mint(requester, 1, attacker, 0, 0, b"\x00" * 32, "", "", sender=attacker)
    with reverts("certificate: minter already set"):
        certificate.set_minter(attacker, sender=deployer)
    with reverts("certificate: not deployer"):
        certificate.set_minter(attacker, sender=attacker)
    assert certificate.minter() == rec.address
