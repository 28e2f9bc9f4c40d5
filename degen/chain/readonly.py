"""The deployment's contracts for commands that only read, over plain JSON-RPC (web3.py):
calls, events and the chain's clock answered the way the SDK's readers ask Ape's contract
instances for them (`market.offer(1).provider`, `market.JobCreated.range(a, b,
search_topics=…)`, `contract.chain_manager.blocks.height`), so `degen offers`, `job show`,
`rec …`, `pool show` and `balance ADDRESS` answer without starting Ape's plugins and
providers, which takes most of a second or two per command. Nothing here signs or sends."""

from __future__ import annotations

from collections.abc import Mapping
from types import SimpleNamespace

from eth_utils import event_abi_to_log_topic, to_checksum_address

from degen.chain.logs import read_logs


def published_abis() -> dict[str, list]:
    """Every deployable's ABI from `abi/` (`make abi`; a test holds them to the compiled contracts)."""
    import json

    from degen.processes import ROOT

    return {path.stem: json.loads(path.read_text()) for path in (ROOT / "abi").glob("*.json")}


class Struct(dict):
    """A decoded struct: its fields by name, as keys and as attributes."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _decoded(abi_type: dict, value):
    """`value` as web3 decoded it for the ABI entry `abi_type`, with structs named."""
    if isinstance(value, Mapping):  # an event's struct argument
        return Struct(value)
    if "components" in abi_type and isinstance(value, (list, tuple)):
        if abi_type["type"].endswith("[]"):
            return [_decoded({**abi_type, "type": abi_type["type"][:-2]}, item) for item in value]
        return Struct((c["name"], _decoded(c, v)) for c, v in zip(abi_type["components"], value))
    return value


class ChainView:
    """The chain's height and clock, as `chain_manager` answers them (each asked when read),
    and the deployment's first block, before which its contracts logged nothing."""

    def __init__(self, web3, first_block: int = 0):
        self.web3, self.first_block = web3, first_block

    @property
    def blocks(self):
        return self

    @property
    def height(self) -> int:
        return self.web3.eth.block_number

    @property
    def head(self):
        return SimpleNamespace(timestamp=self.web3.eth.get_block("latest")["timestamp"])

    @property
    def pending_timestamp(self) -> int:
        return self.web3.eth.get_block("pending")["timestamp"]


class EventLog(Struct):
    """One event: its arguments by name (keys and attributes), `event_arguments` and the block."""

    @property
    def event_arguments(self) -> dict:
        return dict(self)


class Events:
    """`Contract.EventName`: `range(start, stop, search_topics=…)` over blocks [start, stop),
    from the deployment's first block at the earliest, paged as hosted nodes need
    (`degen.chain.logs`)."""

    def __init__(self, contract, abi: dict, chain: ChainView):
        self.contract, self.abi, self.chain = contract, abi, chain

    def range(self, start: int, stop: int, search_topics: dict | None = None) -> list[EventLog]:
        start = max(start, self.chain.first_block)
        if stop <= start:
            return []
        event = getattr(self.contract.events, self.abi["name"])()
        logs = read_logs(lambda first, last: event.get_logs(from_block=first, to_block=last, argument_filters=search_topics or None),
                         start, stop - 1)
        inputs = {item["name"]: item for item in self.abi["inputs"]}
        found = []
        for log in sorted(logs, key=lambda entry: (entry["blockNumber"], entry["logIndex"])):
            record = EventLog((name, _decoded(inputs[name], value)) for name, value in log["args"].items())
            record.block_number = log["blockNumber"]
            found.append(record)
        return found


class ReadOnlyContract:
    """A deployed contract whose view functions are methods and whose events are attributes."""

    def __init__(self, web3, address: str, abi: list[dict], chain: ChainView):
        self._contract = web3.eth.contract(address=to_checksum_address(address), abi=abi)
        self.address = self._contract.address
        self.chain_manager = chain
        self._entries = {entry["name"]: entry for entry in abi if entry["type"] in ("function", "event")}

    def logs_about(self, argument: str, value: int, start: int, stop: int) -> list[dict]:
        """The raw logs in blocks [start, stop) of every event whose first indexed argument is
        `argument` (a uint256) equal to `value` — e.g. everything the market logged about one
        job — in one query per page (topic 0 lists the events), paged as hosted nodes need."""
        signatures = ["0x" + event_abi_to_log_topic(entry).hex() for entry in self._entries.values()
                      if entry["type"] == "event" and [arg["name"] for arg in entry["inputs"] if arg["indexed"]][:1] == [argument]]
        topics = [signatures, "0x" + value.to_bytes(32, "big").hex()]
        web3, start = self._contract.w3, max(start, self.chain_manager.first_block)
        return read_logs(lambda first, last: web3.eth.get_logs({"address": self.address, "topics": topics,
                                                                "fromBlock": first, "toBlock": last}), start, stop - 1)

    def __getattr__(self, name: str):
        entry = self.__dict__.get("_entries", {}).get(name)
        if entry is None:
            raise AttributeError(name)
        if entry["type"] == "event":
            return Events(self._contract, entry, self.chain_manager)

        def call(*args, block_id="latest"):
            result = getattr(self._contract.functions, name)(*args).call(block_identifier=block_id)
            outputs = entry["outputs"]
            if len(outputs) == 1:
                return _decoded(outputs[0], result)
            return tuple(_decoded(output, value) for output, value in zip(outputs, result))

        return call


def read_only(web3, deployment, abis: dict[str, list]):
    """The Deployed tuple of `deployment` over `web3`; `abis` by contract name."""
    from degen.contracts import Deployed

    chain = ChainView(web3, deployment.block)
    addresses = {"AkreToken": deployment.token, "SiteRegistry": deployment.registry, "JobMarket": deployment.market,
                 "RECToken": deployment.rec_token, "RetirementCertificate": deployment.certificate,
                 "EnergyPool": deployment.pool, "GreenRouter": deployment.router, "OracleCommittee": deployment.committee,
                 "AdminTimelock": deployment.timelock, "JobChannels": deployment.channels}
    return Deployed(*(ReadOnlyContract(web3, address, abis[name], chain) for name, address in addresses.items()), deployment.block)


def history(deployed, name: str) -> ReadOnlyContract:
    """`deployed.<name>` (e.g. "market") for reading its events: from the deployment's first
    block, paged as hosted nodes need. An Ape contract is read over its provider's web3 (Ape
    pages logs 5,000 blocks at a time and gives up on a node's refusal)."""
    contract = getattr(deployed, name)
    if isinstance(contract, ReadOnlyContract):
        return contract
    from degen.contracts import abi_of

    web3 = contract.provider.web3
    return ReadOnlyContract(web3, contract.address, abi_of(contract.contract_type), ChainView(web3, deployed.block))
