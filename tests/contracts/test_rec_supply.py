"""REC supply accounting, checked by a Hypothesis state machine against a Python ledger:
after any interleaving of issuance, transfers, retirements and green jobs,
issued - retired == total supply == the sum of balances, and every certificate is
accounted for exactly once."""

from collections import Counter

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule, run_state_machine_as_test

from tests.conftest import COLLATERAL, PV_PEAK_WATTS, stateful_settings
from tests.reads import read_many

HOUR_AT_PEAK = PV_PEAK_WATTS * 1000  # mWh a 10 kW array makes in an hour


def test_rec_supply_is_conserved(chain, rec, certificate, market, token, requester, provider, attacker, site_id, green_offer, issue_recs, create_job, make_receipt, sign):
    holders = [provider, requester, attacker]
    token.approve(market, 2**256 - 1, sender=provider)
    market.deposit_stake(50 * COLLATERAL, sender=provider)
    seen = Counter()

    class Supply(RuleBasedStateMachine):
        @initialize()
        def start(self):
            self.snapshot = chain.snapshot()
            self.balances = {who.address: rec.balanceOf(who) for who in holders}
            self.issued = rec.total_issued()
            self.retired = rec.total_retired()
            self.certificates = certificate.totalSupply()
            self.site_issued = rec.site_issued(site_id)

        def teardown(self):
            if hasattr(self, "snapshot"):
                chain.restore(self.snapshot)

        @rule(energy=st.integers(1, HOUR_AT_PEAK))
        def issue(self, energy):
            issue_recs(site_id, energy)
            self.balances[provider.address] += energy
            self.issued += energy
            self.site_issued += energy
            seen["issue"] += 1

        @rule(data=st.data())
        def transfer(self, data):
            sender = data.draw(st.sampled_from(holders))
            receiver = data.draw(st.sampled_from(holders))
            amount = data.draw(st.integers(0, self.balances[sender.address]))
            rec.transfer(receiver, amount, sender=sender)
            self.balances[sender.address] -= amount
            self.balances[receiver.address] += amount
            seen["transfer"] += 1

        @precondition(lambda self: any(self.balances.values()))
        @rule(data=st.data())
        def retire(self, data):
            holder = data.draw(st.sampled_from([h for h in holders if self.balances[h.address] > 0]))
            amount = data.draw(st.integers(1, self.balances[holder.address]))
            beneficiary = data.draw(st.sampled_from(holders))
            cert_id = rec.retire(amount, beneficiary, "", "", sender=holder).return_value
            self._retired(holder, amount, cert_id, beneficiary, 0)
            seen["retire"] += 1

        @precondition(lambda self: self.balances[provider.address] > 0)
        @rule(data=st.data())
        def green_job(self, data):
            """A whole green job: create, accept, deliver (RECs retired), settle."""
            energy = data.draw(st.integers(1, min(self.balances[provider.address], 3_750)))
            job_id = create_job(offer_id=green_offer, green=True)
            market.accept(job_id, green_offer, sender=provider)
            chain.pending_timestamp += 60
            receipt = make_receipt(job_id, energy_mwh=energy)
            tx = market.deliver(job_id, receipt.as_tuple(), sign(receipt), sender=provider)
            market.settle(job_id, sender=requester)
            self._retired(provider, energy, tx.decode_logs(rec.Retired)[0].certificate_id, requester, job_id)
            seen["green_job"] += 1

        def _retired(self, holder, amount, cert_id, beneficiary, job_id):
            self.balances[holder.address] -= amount
            self.retired += amount
            self.certificates += 1
            assert cert_id == self.certificates
            record = certificate.certificate(cert_id)
            assert (record.beneficiary, record.amount_mwh, record.retired_by, record.job_id) == (
                beneficiary.address, amount, holder.address, job_id)

        @invariant()
        def issued_minus_retired_is_supply(self):
            issued, retired, supply, certificates, site_issued, *balances = read_many(
                (rec.total_issued,), (rec.total_retired,), (rec.totalSupply,), (certificate.totalSupply,),
                (rec.site_issued, site_id), *[(rec.balanceOf, who) for who in holders],
            )
            assert issued == self.issued and retired == self.retired
            assert supply == self.issued - self.retired == sum(self.balances.values())
            for who, balance in zip(holders, balances):
                assert balance == self.balances[who.address]
            assert certificates == self.certificates
            assert site_issued == self.site_issued

    run_state_machine_as_test(Supply, settings=stateful_settings(steps=20))
    assert set(seen) == {"issue", "transfer", "retire", "green_job"}, seen
