"""A site owner's side of JobChannels over JSON-RPC (web3.py), beside its MarketClient: the
channels' state, the closes the chain logs, and redemptions of the requesters' vouchers (with
the REC allowance green ones retire under). Reads retry; transactions are simulated, signed
and sent through the MarketClient (its nonce lock, its reasons)."""

from __future__ import annotations

from dataclasses import fields

from eth_utils import to_checksum_address
from web3.exceptions import ContractLogicError

from degen.chain.market import MarketClient
from degen.channels import ChannelState
from degen.models import Voucher


class ChannelsClient:
    """One deployment's JobChannels (and the RECToken it retires in), for the MarketClient's account."""

    def __init__(self, client: MarketClient, *, channels: str, channels_abi: list, rec_token: str, erc20_abi: list):
        contract = client.web3.eth.contract
        self.client = client
        self.contract = contract(address=to_checksum_address(channels), abi=channels_abi)
        self.rec = contract(address=to_checksum_address(rec_token), abi=erc20_abi)
        self.address = self.contract.address
        self.chain_id = client.chain_id

    def channel(self, channel_id: int) -> ChannelState | None:
        """The channel as the contract holds it; None when there is no such channel."""
        try:
            record = self.client.retry(lambda: self.contract.functions.channel(channel_id).call())
        except ContractLogicError:
            return None
        return ChannelState(channel_id, *record[: len(fields(ChannelState)) - 1])

    def closing(self, from_block: int, to_block: int) -> list[int]:
        """The channels whose requester started a close in blocks [from_block, to_block]."""
        logs = self.client.logs(self.contract.events.ChannelClosing, from_block, to_block)
        return [log["args"]["channel_id"] for log in logs]

    def redeem(self, voucher: Voucher, signature: bytes) -> dict:
        """Redeems a voucher (the site owner's account); the mined receipt."""
        return self.client.send("redeem", voucher.as_tuple(), signature, to=self.contract)

    def rec_balance(self) -> int:
        return self.client.call(self.rec.functions.balanceOf(self.client.account.address))

    def allow_recs(self, needed_mwh: int, allowance_mwh: int) -> bool:
        """Lets JobChannels retire `allowance_mwh` of the account's RECs when it may retire
        fewer than `needed_mwh` now; whether it had to."""
        owner = self.client.account.address
        if self.client.call(self.rec.functions.allowance(owner, self.address)) >= needed_mwh:
            return False
        self.client.send("approve", self.address, max(allowance_mwh, needed_mwh), to=self.rec)
        return True


def channels_client(client: MarketClient, deployment, project) -> ChannelsClient:
    """The ChannelsClient of a deployment (see `degen.deployments`)."""
    from degen.contracts import abi_of

    return ChannelsClient(client, channels=deployment.channels, channels_abi=abi_of(project.JobChannels.contract_type),
                          rec_token=deployment.rec_token, erc20_abi=abi_of(project.RECToken.contract_type))
