"""Escrow conservation, checked by a Hypothesis state machine against a Python ledger.

After any sequence of stake / withdraw / create / accept / deliver / settle / cancel /
expire / dispute / resolve / sweep and time passing, the market holds exactly the open
escrows, the free and locked stakes, the dispute bonds and the unswept fees, and every
account holds exactly what the rules say it is owed."""

from collections import Counter
from dataclasses import dataclass

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule, run_state_machine_as_test

from degen.deploy import AKRE
from degen.models import JobState, JobTerms, fee_of, job_price
from tests.conftest import BASE_PRICE, COLLATERAL, FEE_BPS, MAX_GPU_WATTS, PRICE_PER_KWH, PROMPT, stateful_settings
from tests.reads import read_many

WORK_SECONDS = 30
MAX_ENERGY = MAX_GPU_WATTS * WORK_SECONDS * 1000 // 3600
LIVE = JobState.OPEN | JobState.ACCEPTED | JobState.DELIVERED | JobState.DISPUTED
# What may happen next to a job, by its state; repeats weight the draw toward jobs that
# live long enough to reach settlement and disputes.
MOVES = {
    JobState.OPEN: ["accept"] * 4 + ["cancel", "expire"],
    JobState.ACCEPTED: ["deliver"] * 4 + ["expire"],
    JobState.DELIVERED: ["settle_by_requester", "settle_after_window", "dispute"],
    JobState.DISPUTED: ["provider_wins", "requester_wins"],
}


@dataclass
class JobModel:
    requester: object
    max_price: int
    state: JobState = JobState.OPEN
    energy: int = 0
    bond: int = 0


def test_escrow_is_conserved(chain, market, token, requester, attacker, provider, treasury, arbiter, offer_id, params, make_receipt, sign):
    requesters = [requester, attacker]
    people = requesters + [provider, treasury]
    bond = market.dispute_bond()
    for who in requesters:
        token.approve(market, 2**256 - 1, sender=who)
    seen = Counter()

    class Escrow(RuleBasedStateMachine):
        @initialize()
        def start(self):
            self.snapshot = chain.snapshot()
            self.moves = 0
            self.jobs: dict[int, JobModel] = {}
            self.balances = {who.address: token.balanceOf(who) for who in people}
            self.market_balance = token.balanceOf(market)
            self.free, self.locked = market.stake_of(provider)
            self.fees = market.accrued_fees()
            # What the market held before this example besides stake and fees (no job is live yet).
            self.base = self.market_balance - self.free - self.locked - self.fees

        def teardown(self):
            if hasattr(self, "snapshot"):
                chain.restore(self.snapshot)

        def _pay(self, who, amount):
            self.balances[who.address] += amount
            self.market_balance -= amount

        def _receive(self, who, amount):
            self.balances[who.address] -= amount
            self.market_balance += amount

        @rule(amount=st.integers(-100, 50))
        def restake(self, amount):
            """Deposits `amount` AKRE, or withdraws that percentage of the free stake."""
            if amount >= 0:
                market.deposit_stake(amount * AKRE + 1, sender=provider)
                self._receive(provider, amount * AKRE + 1)
                self.free += amount * AKRE + 1
            elif self.free > 0:
                taken = max(1, self.free * -amount // 100)
                market.withdraw_stake(taken, sender=provider)
                self.free -= taken
                self._pay(provider, taken)

        @precondition(lambda self: sum(1 for job in self.jobs.values() if job.state & LIVE) < 3)
        @rule(
            who=st.sampled_from(requesters),
            max_price=st.integers(BASE_PRICE, 20 * AKRE),
            lifetime=st.integers(3600, 20 * 86400),
        )
        def create(self, who, max_price, lifetime):
            deadline = chain.pending_timestamp + lifetime
            terms = JobTerms(offer_id=offer_id, max_price=max_price, deadline=deadline, challenge_window=600)
            job_id = market.create_job(terms.as_tuple(), PROMPT, params.as_tuple(), sender=who).return_value
            self.jobs[job_id] = JobModel(who, max_price)
            self._receive(who, max_price)

        @precondition(lambda self: any(job.state & LIVE for job in self.jobs.values()))
        @rule(data=st.data())
        def progress(self, data):
            """Lets time pass, then moves one live job up to three transitions along what
            its state allows, and sometimes sweeps the fees."""
            chain.pending_timestamp += data.draw(st.sampled_from([1, 120, 700]))
            if self.fees and data.draw(st.booleans()):
                market.sweep_fees(sender=requester)
                self._pay(treasury, self.fees)
                self.fees = 0
                seen["sweep"] += 1
            job_id = data.draw(st.sampled_from([i for i, job in self.jobs.items() if job.state & LIVE]))
            job = self.jobs[job_id]
            for _ in range(data.draw(st.integers(1, 3))):
                if not job.state & LIVE:
                    break
                if job.state == JobState.DISPUTED:
                    # The verdict alternates with the moves made so far in this example, not a draw of its
                    # own: Hypothesis builds examples from earlier ones, and the few disputes of a run,
                    # copied from one example to the next, drew a single verdict.
                    move = MOVES[job.state][self.moves % 2]
                else:
                    move = data.draw(st.sampled_from(MOVES[job.state]))
                if getattr(self, move)(job_id, job, data) is False:
                    break
                seen[move] += 1
                self.moves += 1

        def accept(self, job_id, job, data):
            if self.free < COLLATERAL or chain.pending_timestamp >= market.job(job_id).deadline:
                return False
            market.accept(job_id, offer_id, sender=provider)
            job.state = JobState.ACCEPTED
            self.free -= COLLATERAL
            self.locked += COLLATERAL

        def cancel(self, job_id, job, data):
            market.cancel(job_id, sender=job.requester)
            job.state = JobState.CANCELLED
            self._pay(job.requester, job.max_price)

        def expire(self, job_id, job, data):
            chain.pending_timestamp = max(chain.pending_timestamp, market.job(job_id).deadline + 1)
            market.expire(job_id, sender=arbiter)
            slashed = COLLATERAL if job.state == JobState.ACCEPTED else 0
            self.locked -= slashed
            self._pay(job.requester, job.max_price + slashed)
            job.state = JobState.EXPIRED

        def deliver(self, job_id, job, data):
            onchain = market.job(job_id)
            chain.pending_timestamp = max(chain.pending_timestamp, onchain.state_since + WORK_SECONDS)
            if chain.pending_timestamp > onchain.deadline:
                return False
            energy = data.draw(st.integers(0, MAX_ENERGY))
            receipt = make_receipt(job_id, energy_mwh=energy, duration=WORK_SECONDS)
            market.deliver(job_id, receipt.as_tuple(), sign(receipt), sender=provider)
            job.state, job.energy = JobState.DELIVERED, energy

        def _paid_out(self, job, bonus=0):
            price = job_price(BASE_PRICE, PRICE_PER_KWH, job.energy, job.max_price)
            fee = fee_of(price, FEE_BPS)
            self._pay(provider, price - fee + bonus)
            self._pay(job.requester, job.max_price - price)
            self.fees += fee
            self.free += COLLATERAL
            self.locked -= COLLATERAL
            job.state = JobState.SETTLED

        def settle_by_requester(self, job_id, job, data):
            market.settle(job_id, sender=job.requester)
            self._paid_out(job)

        def settle_after_window(self, job_id, job, data):
            onchain = market.job(job_id)
            chain.pending_timestamp = max(chain.pending_timestamp, onchain.state_since + onchain.challenge_window + 1)
            market.settle(job_id, sender=arbiter)
            self._paid_out(job)

        def dispute(self, job_id, job, data):
            onchain = market.job(job_id)
            if chain.pending_timestamp > onchain.state_since + onchain.challenge_window:
                return False
            market.dispute(job_id, sender=job.requester)
            job.state, job.bond = JobState.DISPUTED, bond
            self._receive(job.requester, bond)

        def provider_wins(self, job_id, job, data):
            market.resolve(job_id, True, sender=arbiter)
            self._paid_out(job, bonus=job.bond)
            job.bond = 0

        def requester_wins(self, job_id, job, data):
            market.resolve(job_id, False, sender=arbiter)
            self._pay(job.requester, job.max_price + job.bond + COLLATERAL)
            self.locked -= COLLATERAL
            job.state, job.bond = JobState.REFUNDED, 0

        @invariant()
        def market_holds_exactly_what_it_owes_and_everyone_what_they_are_owed(self):
            escrow = sum(job.max_price for job in self.jobs.values() if job.state & LIVE)
            bonds = sum(job.bond for job in self.jobs.values())
            held, stake, fees, *balances_and_jobs = read_many(
                (token.balanceOf, market), (market.stake_of, provider), (market.accrued_fees,),
                *[(token.balanceOf, who) for who in people], *[(market.job, job_id) for job_id in self.jobs],
            )
            assert held == self.market_balance
            assert self.market_balance == self.base + escrow + self.free + self.locked + bonds + self.fees
            for who, balance in zip(people, balances_and_jobs):
                assert balance == self.balances[who.address], who
            assert stake == (self.free, self.locked)
            assert fees == self.fees
            for job, onchain in zip(self.jobs.values(), balances_and_jobs[len(people):]):
                assert onchain.state == job.state

    run_state_machine_as_test(Escrow, settings=stateful_settings(steps=30))
    # The machine must have walked every transition, or it proved nothing about it.
    assert set(seen) >= {move for moves in MOVES.values() for move in moves} | {"sweep"}, seen
