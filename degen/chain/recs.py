"""A provider's side of the REC market over JSON-RPC (web3.py), beside its MarketClient: its
REC and AKRE balances, the EnergyPool's TWAP and quotes, and the GreenRouter, which buys a
green job's missing RECs inside the delivery. Reads retry and transactions are simulated,
signed and sent through the MarketClient (its nonce lock, its reasons)."""

from __future__ import annotations

from dataclasses import dataclass

from eth_utils import to_checksum_address
from web3.exceptions import ContractLogicError
from web3.logs import DISCARD

from degen.chain.market import MarketClient, revert_reason
from degen.errors import DegenError
from degen.pool import amount_text


class NoQuote(DegenError, RuntimeError):
    """The pool cannot price a purchase now (no liquidity, or not enough of it)."""

    def __init__(self, reason: str):
        super().__init__(f"the pool cannot quote: {reason}")
        self.reason = reason


@dataclass(frozen=True)
class Purchase:
    """RECs the router bought for a job: its ShortfallBought event."""

    job_id: int
    rec_mwh: int
    akre: int
    block_number: int


class RecMarketClient:
    """The pool and router of one deployment, for the MarketClient's account."""

    def __init__(self, client: MarketClient, *, pool: str, pool_abi: list, router: str, router_abi: list,
                 token: str, rec_token: str, erc20_abi: list):
        contract = client.web3.eth.contract
        self.client = client
        self.pool = contract(address=to_checksum_address(pool), abi=pool_abi)
        self.router = contract(address=to_checksum_address(router), abi=router_abi)
        self.token = contract(address=to_checksum_address(token), abi=erc20_abi)
        self.rec = contract(address=to_checksum_address(rec_token), abi=erc20_abi)
        self.account = client.account.address

    # ---- reads ---------------------------------------------------------------------------

    def rec_balance(self) -> int:
        """The account's RECs, mWh."""
        return self.client.call(self.rec.functions.balanceOf(self.account))

    def rec_allowance_to_market(self) -> int:
        """The account's RECs the market may retire (green deliveries), mWh."""
        return self.client.call(self.rec.functions.allowance(self.account, self.client.address))

    def akre_balance(self) -> int:
        return self.client.call(self.token.functions.balanceOf(self.account))

    def twap(self, window_s: int) -> int | None:
        """The pool's time-weighted price over at least `window_s` seconds up to the next block,
        AKRE base units per REC; None while the pool has no observation that old (a new or
        empty pool). (Up to the next block: on a chain that mines only when there are
        transactions, the latest block can stay behind the clock for any time.)"""
        try:
            return self.client.call(self.pool.functions.consult(window_s), block="pending")
        except ContractLogicError:
            return None

    def quote(self, rec_mwh: int) -> int:
        """What buying `rec_mwh` costs in the next block, in AKRE base units (the router pays
        exactly this in its block, a little more only if the REC reserve decayed meanwhile).
        Raises NoQuote when the pool cannot sell that much."""
        rec_reserve, akre_reserve = self.client.call(self.pool.functions.get_reserves(), block="pending")
        try:
            return self.client.call(self.pool.functions.get_amount_in(rec_mwh, akre_reserve, rec_reserve), block="pending")
        except ContractLogicError as exc:
            raise NoQuote(revert_reason(exc)) from None

    # ---- transactions --------------------------------------------------------------------

    def prepare_router(self, needed_akre: int, allowance_akre: int) -> list[str]:
        """Makes the router the account's delivery operator (once) and, when its AKRE
        allowance is below `needed_akre`, sets it to `allowance_akre` (a bounded approval,
        renewed only when spent). Returns what it did, for the log."""
        done = []
        market = self.client.market.functions
        if not self.client.call(market.delivery_operator(self.account, self.router.address)):
            self.client.send("set_delivery_operator", self.router.address, True)
            done.append("named the GreenRouter delivery operator")
        if self.client.call(self.token.functions.allowance(self.account, self.router.address)) < needed_akre:
            self.client.send("approve", self.router.address, allowance_akre, to=self.token)
            done.append(f"approved the GreenRouter to spend {amount_text(allowance_akre, 'akre')}")
        return done

    def deliver(self, job_id: int, receipt: tuple, signature: bytes, max_akre: int, deadline: int) -> tuple[dict, Purchase | None]:
        """Delivers through the router, which first buys the RECs the receipt needs beyond the
        account's balance for at most `max_akre`, no later than `deadline`; returns the
        transaction receipt and what it bought (None: nothing was missing)."""
        tx = self.client.send("deliver", job_id, receipt, signature, max_akre, deadline, to=self.router)
        events = self.router.events.ShortfallBought().process_receipt(tx, errors=DISCARD)
        bought = [event for event in events if event["address"] == self.router.address]
        return tx, (self._purchase(bought[0]) if bought else None)

    def purchase_of(self, job_id: int, from_block: int) -> Purchase | None:
        """The router's purchase for `job_id` at or after `from_block`, as the chain logged it."""
        found = self.client.logs(self.router.events.ShortfallBought, from_block, job_id=job_id)
        return self._purchase(found[0]) if found else None

    @staticmethod
    def _purchase(event) -> Purchase:
        args = event["args"]
        return Purchase(args["job_id"], args["rec_amount"], args["akre_amount"], event["blockNumber"])


def rec_market_client(client: MarketClient, deployment, project) -> RecMarketClient:
    """The RecMarketClient of a deployment, typed by the project's compiled contracts."""
    from degen.contracts import abi_of

    return RecMarketClient(
        client, pool=deployment.pool, pool_abi=abi_of(project.EnergyPool.contract_type),
        router=deployment.router, router_abi=abi_of(project.GreenRouter.contract_type),
        token=deployment.token, rec_token=deployment.rec_token, erc20_abi=abi_of(project.AkreToken.contract_type),
    )
