"""OracleCommittee: reports signed by `threshold` of its bonded members issue RECs, decide
sites and disputes; every report it must refuse is refused with its reason (too few
signatures, a duplicate, unordered or non-member signer, a removed member, a stale
configuration, another chain's or contract's domain, a high-s or 64-byte signature, a
replay); a member that signs two answers to one question loses its bond to whoever proves
it; membership changes only through its admin, and through the AdminTimelock only after the
delay."""

from __future__ import annotations

import pytest
from eth_account import Account

from degen import committee as reports
from degen import eip712
from degen.committee import IssuanceRequest
from degen.deploy import AKRE
from degen.models import JobState, SiteStatus

BOND = 100 * AKRE
BOND_LOCK = 7 * 86_400
ROOT = b"\xab" * 32


@pytest.fixture(scope="module")
def builder(accounts, deployer):
    """The account that deploys this module's contracts: not the deployer, whose reverted
    deployments (test isolation) would leave Ape believing these contracts live at addresses
    the deployer uses again in later tests."""
    account = accounts.generate_test_account()
    deployer.transfer(account, 10**20)
    return account


@pytest.fixture
def committee(project, builder, deployer, rec, registry, market, token, treasury, govern):
    """A fresh committee holding the issuer, registrar and arbiter roles (granted through the
    timelock); the deployer is its admin here (the AdminTimelock in a deployment)."""
    deployed = builder.deploy(project.OracleCommittee, rec, registry, market, token, treasury, deployer, BOND, BOND_LOCK)
    govern(*((contract, contract.grantRole.encode_input(role, deployed)) for contract, role in (
        (rec, rec.ISSUER_ROLE()), (registry, registry.REGISTRAR_ROLE()), (market, market.ARBITER_ROLE()))))
    return deployed


@pytest.fixture
def new_member(accounts, deployer, token, committee):
    """Factory: a funded account with its bond posted (not yet a member)."""

    def make(bond=BOND):
        account = accounts.generate_test_account()
        deployer.transfer(account, 10**18)
        token.transfer(account, bond, sender=deployer)
        token.approve(committee, bond, sender=account)
        committee.post_bond(bond, sender=account)
        return account

    return make


@pytest.fixture
def members(committee, new_member, deployer):
    """Three members, 2-of-3."""
    three = [new_member() for _ in range(3)]
    for count, member in enumerate(three, start=1):
        committee.add_member(member, f"https://oracle-{count}.example.org", count // 2 + 1, sender=deployer)
    return three


def key_of(signer) -> str:
    """An Ape test account's key, or an eth-account one's."""
    return signer.private_key if hasattr(signer, "private_key") else signer.key


def signed(typed: dict, signers) -> list[bytes]:
    return reports.ordered({signer.address: eip712.sign(typed, key_of(signer)) for signer in signers})


def issuance(committee, chain, requests, config=None):
    return reports.issuance_report(committee.config_count() if config is None else config, requests, chain.chain_id, committee.address)


def past_hour(rec, site_id, chain, energy=1_000_000, root=ROOT) -> IssuanceRequest:
    start = max(rec.high_water_mark(site_id), chain.pending_timestamp - 30 * 86_400)
    if start + 3600 > chain.pending_timestamp:
        chain.pending_timestamp = start + 3601
    return IssuanceRequest(site_id, start, start + 3600, energy, root)


def test_the_contract_hashes_each_report_as_the_sdk_signs_it(committee, members, chain, site_id):
    request = IssuanceRequest(site_id, 3600, 7200, 5_000, ROOT)
    typed = issuance(committee, chain, [request, request])
    assert committee.issuance_digest(reports.as_arguments(typed)) == eip712.digest(typed)
    site = reports.site_report(1, site_id, 0, True, meter=members[0].address, pv_peak_watts=10_000, battery_wh=0,
                               max_gpu_watts=450, chain_id=chain.chain_id, committee=committee.address)
    assert committee.site_digest(reports.as_arguments(site)) == eip712.digest(site)
    verdict = reports.verdict_report(3, 7, False, chain.chain_id, committee.address)
    assert committee.verdict_digest(reports.as_arguments(verdict)) == eip712.digest(verdict)


def test_two_of_three_members_issue_recs(committee, members, rec, registry, site_id, chain, provider):
    before = rec.balanceOf(provider)
    requests = [past_hour(rec, site_id, chain, energy=2_000_000)]
    typed = issuance(committee, chain, requests)
    tx = committee.issue(reports.as_arguments(typed), signed(typed, members[1:]), sender=provider)  # anyone submits
    accepted = tx.decode_logs(committee.ReportAccepted)[0]
    assert accepted.kind == 1 and accepted.digest == eip712.digest(typed)
    assert sorted(accepted.signers) == sorted(m.address for m in members[1:]) and accepted.config == committee.config_count()
    assert rec.balanceOf(provider) == before + 2_000_000
    assert tx.decode_logs(rec.Issued)[0].issuance_id == accepted.subject


@pytest.mark.parametrize("case, reason", [
    ("one signature", "committee: too few signatures"),
    ("twice the same signer", "committee: signers not ascending"),
    ("descending signers", "committee: signers not ascending"),
    ("a stranger", "committee: signer not a member"),
    ("another chain", "committee: signer not a member"),
    ("another committee", "committee: signer not a member"),
    ("high s", "ecdsa: invalid signature `s` value"),
    ("64 bytes", "committee: signature not 65 bytes"),
    ("a stale config", "committee: stale config"),
])
def test_a_report_the_committee_must_refuse_is_refused(case, reason, committee, members, rec, site_id, chain, reverts):
    request = past_hour(rec, site_id, chain)
    typed = issuance(committee, chain, [request])
    two = signed(typed, members[:2])
    signatures = {
        "one signature": two[:1],
        "twice the same signer": [two[0], two[0]],
        "descending signers": list(reversed(two)),
        "a stranger": signed(typed, [members[0], Account.create()]),
        "another chain": signed(reports.issuance_report(typed["message"]["config"], [request], chain.chain_id + 1, committee.address),
                                members[:2]),
        "another committee": signed(reports.issuance_report(typed["message"]["config"], [request], chain.chain_id,
                                                            "0x" + "12" * 20), members[:2]),
        "high s": [two[0], _high_s(two[1])],
        "64 bytes": [two[0], two[1][:64]],
        "a stale config": signed(issuance(committee, chain, [request], config=committee.config_count() - 1), members[:2]),
    }[case]
    arguments = reports.as_arguments(typed) if case != "a stale config" else reports.as_arguments(
        issuance(committee, chain, [request], config=committee.config_count() - 1))
    with reverts(reason):
        committee.issue(arguments, signatures, sender=members[0])


def _high_s(signature: bytes) -> bytes:
    s = int.from_bytes(signature[32:64], "big")
    return signature[:32] + (eip712.SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - signature[64]])


def test_a_removed_members_signature_no_longer_counts_and_old_reports_are_stale(committee, members, rec, site_id, chain,
                                                                                deployer, reverts):
    request = past_hour(rec, site_id, chain)
    before = issuance(committee, chain, [request])
    committee.remove_member(members[2], 2, sender=deployer)
    with reverts("committee: stale config"):
        committee.issue(reports.as_arguments(before), signed(before, members[1:]), sender=deployer)
    after = issuance(committee, chain, [request])
    with reverts("committee: signer not a member"):
        committee.issue(reports.as_arguments(after), signed(after, members[1:]), sender=deployer)
    committee.issue(reports.as_arguments(after), signed(after, members[:2]), sender=deployer)
    with reverts("rec: period overlaps"):  # a replay: the REC's high-water mark refuses it
        committee.issue(reports.as_arguments(after), signed(after, members[:2]), sender=deployer)


def test_a_site_is_activated_and_suspended_as_registered_and_no_decision_is_replayed(
        committee, members, registry, provider, chain, reverts):
    meter = Account.create().address
    site_id = registry.register_site(meter, 7_000, 0, 300, "KE", sender=provider).return_value

    def decision(active, nonce=None, **changes):
        fields = dict(meter=meter, pv_peak_watts=7_000, battery_wh=0, max_gpu_watts=300) | changes
        return reports.site_report(committee.config_count(), site_id, committee.site_nonce(site_id) if nonce is None else nonce,
                                   active, chain_id=chain.chain_id, committee=committee.address, **fields)

    for changes, reason in (({"meter": Account.create().address}, "committee: meter key differs"),
                            ({"pv_peak_watts": 70_000}, "committee: limits differ")):
        wrong = decision(True, **changes)
        with reverts(reason):
            committee.decide_site(reports.as_arguments(wrong), signed(wrong, members[:2]), sender=provider)
    activate = decision(True)
    tx = committee.decide_site(reports.as_arguments(activate), signed(activate, members[:2]), sender=provider)
    assert registry.site(site_id).status == SiteStatus.ACTIVE and tx.decode_logs(committee.ReportAccepted)[0].subject == site_id
    suspend = decision(False)
    committee.decide_site(reports.as_arguments(suspend), signed(suspend, members[1:]), sender=provider)
    assert registry.site(site_id).status == SiteStatus.SUSPENDED
    with reverts("committee: stale site nonce"):  # the old activation, replayed after the suspension
        committee.decide_site(reports.as_arguments(activate), signed(activate, members[:2]), sender=provider)


def test_a_dispute_is_decided_by_the_verdict_two_members_signed(committee, members, delivered_job, market, token, requester,
                                                                chain, reverts):
    job_id = delivered_job()
    token.approve(market, market.dispute_bond(), sender=requester)
    market.dispute(job_id, sender=requester)
    lone = reports.verdict_report(committee.config_count(), job_id, False, chain.chain_id, committee.address)
    with reverts("committee: too few signatures"):
        committee.resolve(reports.as_arguments(lone), signed(lone, members[:1]), sender=requester)
    verdict = lone
    committee.resolve(reports.as_arguments(verdict), signed(verdict, members[::2]), sender=requester)
    assert market.job(job_id).state == JobState.REFUNDED
    with reverts("market: job not disputed"):
        committee.resolve(reports.as_arguments(verdict), signed(verdict, members[::2]), sender=requester)


def test_a_member_signing_two_answers_loses_its_bond_to_whoever_proves_it(committee, members, token, treasury, attacker, chain,
                                                                          site_id, reverts):
    liar = members[1]
    honest = IssuanceRequest(site_id, 3600, 7200, 5_000, ROOT)
    inflated = IssuanceRequest(site_id, 3600, 7200, 50_000, ROOT)
    first, second = issuance(committee, chain, [honest]), issuance(committee, chain, [IssuanceRequest(site_id, 0, 3600, 1, ROOT), inflated])
    sign = lambda typed, who: eip712.sign(typed, who.private_key)  # noqa: E731
    with reverts("committee: same answer"):
        committee.prove_issuance_equivocation(reports.as_arguments(first), sign(first, liar), 0, reports.as_arguments(first),
                                              sign(first, liar), 0, sender=attacker)
    with reverts("committee: different signers"):
        committee.prove_issuance_equivocation(reports.as_arguments(first), sign(first, liar), 0, reports.as_arguments(second),
                                              sign(second, members[0]), 1, sender=attacker)
    with reverts("committee: not one question"):
        committee.prove_issuance_equivocation(reports.as_arguments(first), sign(first, liar), 0, reports.as_arguments(second),
                                              sign(second, liar), 0, sender=attacker)
    held, prover, pot = token.balanceOf(committee), token.balanceOf(attacker), token.balanceOf(treasury)
    config = committee.config_count()
    tx = committee.prove_issuance_equivocation(reports.as_arguments(first), sign(first, liar), 0, reports.as_arguments(second),
                                               sign(second, liar), 1, sender=attacker)
    event = tx.decode_logs(committee.Equivocated)[0]
    assert (event.member, event.prover, event.kind, event.to_prover, event.to_treasury) == (liar.address, attacker.address, 1,
                                                                                           BOND // 2, BOND // 2)
    assert token.balanceOf(attacker) == prover + BOND // 2 and token.balanceOf(treasury) == pot + BOND // 2
    assert token.balanceOf(committee) == held - BOND and committee.bond_of(liar) == 0
    assert not committee.is_member(liar) and committee.members() == [members[0].address, members[2].address]
    assert committee.threshold() == 2 and committee.config_count() == config + 1
    with reverts("committee: nothing to slash"):
        committee.prove_issuance_equivocation(reports.as_arguments(first), sign(first, liar), 0, reports.as_arguments(second),
                                              sign(second, liar), 1, sender=attacker)


def test_verdict_and_site_equivocation_are_slashed_too(committee, members, chain, attacker, reverts, deployer):
    yes = reports.verdict_report(1, 9, True, chain.chain_id, committee.address)
    no = reports.verdict_report(2, 9, False, chain.chain_id, committee.address)  # another config: still one question
    committee.prove_verdict_equivocation(reports.as_arguments(yes), eip712.sign(yes, members[0].private_key),
                                         reports.as_arguments(no), eip712.sign(no, members[0].private_key), sender=attacker)
    assert not committee.is_member(members[0]) and committee.threshold() == 2  # two left, both needed
    fields = dict(meter=members[2].address, pv_peak_watts=1, battery_wh=0, max_gpu_watts=1, chain_id=chain.chain_id,
                  committee=committee.address)
    up, down = reports.site_report(1, 4, 0, True, **fields), reports.site_report(1, 4, 0, False, **fields)
    committee.prove_site_equivocation(reports.as_arguments(up), eip712.sign(up, members[2].private_key),
                                      reports.as_arguments(down), eip712.sign(down, members[2].private_key), sender=attacker)
    assert committee.members() == [members[1].address] and committee.threshold() == 1


def test_bonds_stay_locked_while_a_member_serves_and_for_a_while_after(committee, members, new_member, token, deployer, chain,
                                                                      reverts):
    with reverts("committee: member bond locked"):
        committee.withdraw_bond(BOND, sender=members[0])
    committee.remove_member(members[0], 2, sender=deployer)
    with reverts("committee: bond still locked"):
        committee.withdraw_bond(BOND, sender=members[0])
    chain.pending_timestamp += BOND_LOCK
    before = token.balanceOf(members[0])
    committee.withdraw_bond(BOND, sender=members[0])
    assert token.balanceOf(members[0]) == before + BOND
    poor = new_member(bond=BOND - 1)
    with reverts("committee: bond too small"):
        committee.add_member(poor, "https://poor.example.org", 2, sender=deployer)
    token.approve(committee, 1, sender=deployer)
    sponsored = committee.post_bond_for(poor, 1, sender=deployer)  # a sponsor tops it up: the bond stays the member's
    assert sponsored.decode_logs(committee.BondPosted)[0].payer == deployer.address and committee.bond_of(poor) == BOND
    committee.add_member(poor, "https://poor.example.org", 2, sender=deployer)


@pytest.mark.parametrize("call, reason", [
    (lambda c, m: c.add_member(Account.create().address, "https://x.example.org", 2, sender=m), "committee: not admin"),
    (lambda c, m: c.remove_member(c.members()[0], 2, sender=m), "committee: not admin"),
    (lambda c, m: c.set_threshold(1, sender=m), "committee: not admin"),
    (lambda c, m: c.set_min_bond(0, sender=m), "committee: not admin"),
    (lambda c, m: c.transfer_admin(m, sender=m), "committee: not admin"),
])
def test_only_the_admin_changes_the_committee(call, reason, committee, members, reverts):
    with reverts(reason):
        call(committee, members[0])


def test_the_threshold_is_always_a_majority(committee, members, deployer, reverts):
    for threshold in (0, 1, 4):
        with reverts("committee: threshold not a majority"):
            committee.set_threshold(threshold, sender=deployer)
    committee.set_threshold(3, sender=deployer)
    with reverts("committee: endpoint not http(s)"):
        committee.set_endpoint("ftp://oracle.example.org", sender=members[0])
    committee.set_endpoint("https://new.example.org", sender=members[0])
    assert committee.endpoint_of(members[0]) == "https://new.example.org"


def test_through_the_timelock_a_change_waits_for_its_delay(project, committee, members, new_member, deployer, builder, chain,
                                                          reverts):
    delay = 2 * 86_400
    timelock = builder.deploy(project.AdminTimelock, delay, [deployer], [deployer], "0x" + "00" * 20)
    committee.transfer_admin(timelock, sender=deployer)
    joining = new_member()
    call = committee.add_member.encode_input(joining, "https://oracle-4.example.org", 3)
    salt = b"\x00" * 32
    timelock.schedule(committee, 0, call, b"\x00" * 32, salt, delay, sender=deployer)
    with reverts("timelock_controller: operation is not ready"):
        timelock.execute(committee, 0, call, b"\x00" * 32, salt, sender=deployer)
    chain.pending_timestamp += delay
    timelock.execute(committee, 0, call, b"\x00" * 32, salt, sender=deployer)
    assert committee.is_member(joining) and committee.threshold() == 3
    with reverts("committee: not admin"):
        committee.set_threshold(4, sender=deployer)  # the deployer no longer changes it directly
