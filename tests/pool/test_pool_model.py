"""The contract equals the Python reference model (degen.pool_model) over random sequences of
deposits, withdrawals, the three swaps, donations with sync, and time passing (decay and the
price accumulator), for half-lives from none to one hour. Every refusal the model predicts
must be the contract's revert reason, and along the way: k never falls through a swap, the
decay never drives a reserve below zero or below the pool's balance, and a withdrawal never
pays more than its share."""

from collections import Counter

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from degen import pool_model
from degen.pool_model import PoolError, PoolModel
from tests.conftest import stateful_settings
from tests.reads import read_many
from tests.pool.conftest import DAY, FOREVER, SEED_AKRE, SEED_REC

HALF_LIVES = [0, 3600, DAY, 30 * DAY, pool_model.half_life_for_monthly_loss(0.02)]
GAPS = st.one_of(st.integers(1, 30), st.integers(31, 3 * 3600), st.integers(3 * 3600, 3 * DAY))
FRACTION_BPS = st.integers(1, 20_000)


def test_contract_equals_reference_model(make_pool, chain, rec, token, deployer, requester, attacker, reverts):
    traders = [requester, attacker]
    tokens = {"rec": rec, "akre": token}
    seen = Counter()

    class Equivalence(RuleBasedStateMachine):
        @initialize(half_life=st.sampled_from(HALF_LIVES))
        def start(self, half_life):
            self.snapshot = chain.snapshot()
            self.pool = make_pool(half_life=half_life, seed=None)
            self.model = PoolModel(half_life=half_life)
            self.dissipated = rec.total_dissipated()
            self.now = chain.blocks.head.timestamp
            self._act(lambda: self.model.add_liquidity(SEED_REC, SEED_AKRE, self.now)[2],
                      lambda: self.pool.add_liquidity(SEED_REC, SEED_AKRE, 0, FOREVER, sender=deployer))

        def teardown(self):
            if hasattr(self, "snapshot"):
                chain.restore(self.snapshot)

        def _act(self, model_step, chain_step, gap=1):
            """Runs one action at `gap` seconds after the last block in both; returns the
            model's result, or None when both refused it for the same reason."""
            self.now += gap
            chain.pending_timestamp = self.now
            before = PoolModel(**{**self.model.__dict__, "observations": list(self.model.observations)})
            try:
                expected = model_step()
            except PoolError as refusal:
                self.model = before  # a refused action changes nothing; time still passes
                with reverts(str(refusal)):
                    chain_step()
                chain.mine(1, timestamp=self.now)
                seen["refused"] += 1
                return None
            tx = chain_step()
            assert tx.timestamp == self.now
            result = tx.return_value
            result = (tuple(result) or None) if isinstance(result, (list, tuple)) else result
            assert result == expected
            return expected

        @rule(gap=GAPS)
        def wait(self, gap):
            self.now += gap
            chain.mine(1, timestamp=self.now)
            seen["wait"] += 1

        @rule(who=st.sampled_from(traders), token_in=st.sampled_from(["rec", "akre"]), bps=FRACTION_BPS, gap=GAPS)
        def swap_exact_in(self, who, token_in, bps, gap):
            amount = self._sized(token_in, bps, who)
            k = self._k_at(gap)
            if self._act(lambda: self.model.swap_exact_in(token_in, amount, self.now),
                         lambda: self.pool.swap_exact_in(tokens[token_in], amount, 0, who, FOREVER, sender=who), gap):
                assert self.model.rec * self.model.akre >= k
                seen["swap_exact_in"] += 1

        @rule(who=st.sampled_from(traders), token_in=st.sampled_from(["rec", "akre"]), bps=st.integers(1, 12_000), gap=GAPS)
        def swap_exact_out(self, who, token_in, bps, gap):
            rec_now, akre_now, _ = self.model.at(self.now + gap)
            amount = (akre_now if token_in == "rec" else rec_now) * bps // 10_000
            try:
                cost = pool_model.amount_in(amount, *self._sides(token_in, rec_now, akre_now))
            except PoolError:
                cost = 0
            if cost > tokens[token_in].balanceOf(who):
                return
            k = self._k_at(gap)
            if self._act(lambda: self.model.swap_exact_out(token_in, amount, self.now),
                         lambda: self.pool.swap_exact_out(tokens[token_in], amount, 2**256 - 1, who, FOREVER, sender=who), gap):
                assert self.model.rec * self.model.akre >= k
                seen["swap_exact_out"] += 1

        @rule(who=st.sampled_from(traders), token_in=st.sampled_from(["rec", "akre"]), bps=FRACTION_BPS, gap=GAPS)
        def swap_received(self, who, token_in, bps, gap):
            amount = self._sized(token_in, bps, who)
            if amount == 0:
                return
            tokens[token_in].transfer(self.pool, amount, sender=who)
            self.now = chain.blocks.head.timestamp
            if self._act(lambda: self.model.swap_exact_in(token_in, amount, self.now),
                         lambda: self.pool.swap_received(tokens[token_in], 0, who, FOREVER, sender=who), gap):
                seen["swap_received"] += 1
            else:  # refused: take the tokens back so the pool holds only its reserves again
                self.pool.skim(who, sender=who)
                self.now = chain.blocks.head.timestamp
                self.model.advance(self.now)

        @rule(who=st.sampled_from([deployer, requester]), rec_bps=FRACTION_BPS, akre_bps=FRACTION_BPS, gap=GAPS)
        def add_liquidity(self, who, rec_bps, akre_bps, gap):
            rec_amount = min(self.model.rec * rec_bps // 10_000 + 1, rec.balanceOf(who))
            akre_amount = min(self.model.akre * akre_bps // 10_000 + 1, token.balanceOf(who))
            if self._act(lambda: self.model.add_liquidity(rec_amount, akre_amount, self.now)[2],
                         lambda: self.pool.add_liquidity(rec_amount, akre_amount, 0, FOREVER, sender=who), gap):
                seen["add_liquidity"] += 1

        @rule(who=st.sampled_from([deployer, requester]), bps=st.integers(1, 10_000), gap=GAPS)
        def remove_liquidity(self, who, bps, gap):
            liquidity = self.pool.balanceOf(who) * bps // 10_000
            if liquidity == 0:
                return
            rec_now, akre_now, _ = self.model.at(self.now + gap)
            supply = self.model.supply
            paid = self._act(lambda: self.model.remove_liquidity(liquidity, self.now),
                             lambda: self.pool.remove_liquidity(liquidity, 0, 0, FOREVER, sender=who), gap)
            if paid:
                assert paid[0] * supply <= liquidity * rec_now and paid[1] * supply <= liquidity * akre_now
                seen["remove_liquidity"] += 1

        @rule(who=st.sampled_from(traders), bps=st.integers(1, 500), gap=GAPS)
        def donate_and_sync(self, who, bps, gap):
            gift = min(self.model.akre * bps // 10_000, token.balanceOf(who))
            token.transfer(self.pool, gift, sender=who)
            self.now = chain.blocks.head.timestamp
            rec_balance = rec.balanceOf(self.pool)
            rec_after = pool_model.decayed(self.model.rec, self.model.rate_wad, self.now + gap - self.model.timestamp)
            self._act(lambda: self.model.sync(rec_balance - (self.model.rec - rec_after), token.balanceOf(self.pool), self.now),
                      lambda: self.pool.sync(sender=who), gap)
            seen["sync"] += 1

        @rule(window=st.integers(1, 2 * DAY))
        def consult(self, window):
            try:
                expected = self.model.consult(window, self.now)
            except PoolError as refusal:
                with reverts(str(refusal)):
                    self.pool.consult(window)
                return
            assert self.pool.consult(window) == expected
            seen["consult"] += 1

        def _sized(self, token_in, bps, who):
            reserve = self.model.rec if token_in == "rec" else self.model.akre
            return min(reserve * bps // 10_000, tokens[token_in].balanceOf(who))

        def _k_at(self, gap):
            rec_now, akre_now, _ = self.model.at(self.now + gap)
            return rec_now * akre_now

        @staticmethod
        def _sides(token_in, rec_now, akre_now):
            return (rec_now, akre_now) if token_in == "rec" else (akre_now, rec_now)

        @invariant()
        def chain_state_is_the_models(self):
            if not hasattr(self, "pool"):
                return
            reserves, cumulative, supply, dissipated, rec_held, akre_held = read_many(
                (self.pool.get_reserves,), (self.pool.price_cumulative,), (self.pool.totalSupply,),
                (rec.total_dissipated,), (rec.balanceOf, self.pool), (token.balanceOf, self.pool),
            )
            assert reserves == self.model.at(self.now)[:2]
            assert cumulative == (self.model.at(self.now)[2], self.now)
            assert supply == self.model.supply
            assert dissipated - self.dissipated == self.model.dissipated
            assert rec_held >= self.model.rec >= 0
            assert akre_held >= self.model.akre >= 0

    run_state_machine_as_test(Equivalence, settings=stateful_settings(steps=20))
    assert {"swap_exact_in", "swap_exact_out", "swap_received", "add_liquidity", "remove_liquidity", "sync",
            "consult", "refused"} <= set(seen), seen
