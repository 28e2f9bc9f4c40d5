"""The oracle committee's reports, as its members sign them: EIP-712 typed data in the domain
"DeGEN committee"/"1" of the OracleCommittee contract, for REC issuance (a batch of
site-periods), a site decision (activate or suspend, with the meter key and limits the
registry holds) and a dispute's verdict. Each names the committee's configuration count, so
a report signed before a change of members or threshold is refused after it. The contract
takes `threshold` signatures ordered by signer address, strictly ascending (`ordered`)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from degen import eip712

DOMAIN_NAME = "DeGEN committee"
DOMAIN_VERSION = "1"
REPORT_KINDS = {1: "issuance", 2: "site", 3: "verdict"}  # ReportAccepted.kind

REQUEST_FIELDS = [
    {"name": "site_id", "type": "uint256"},
    {"name": "period_start", "type": "uint256"},
    {"name": "period_end", "type": "uint256"},
    {"name": "energy_mwh", "type": "uint256"},
    {"name": "evidence_root", "type": "bytes32"},
]
ISSUANCE_FIELDS = [{"name": "config", "type": "uint256"}, {"name": "requests", "type": "IssuanceRequest[]"}]
SITE_FIELDS = [
    {"name": "config", "type": "uint256"},
    {"name": "site_id", "type": "uint256"},
    {"name": "nonce", "type": "uint256"},
    {"name": "active", "type": "bool"},
    {"name": "meter", "type": "address"},
    {"name": "pv_peak_watts", "type": "uint256"},
    {"name": "battery_wh", "type": "uint256"},
    {"name": "max_gpu_watts", "type": "uint256"},
]
VERDICT_FIELDS = [{"name": "config", "type": "uint256"}, {"name": "job_id", "type": "uint256"}, {"name": "provider_wins", "type": "bool"}]


@dataclass(frozen=True)
class IssuanceRequest:
    """One site-period, as RECToken.issue_batch takes it."""

    site_id: int
    period_start: int
    period_end: int
    energy_mwh: int
    evidence_root: bytes

    def as_tuple(self) -> tuple:
        return (self.site_id, self.period_start, self.period_end, self.energy_mwh, self.evidence_root)

    def as_message(self) -> dict:
        return {"site_id": self.site_id, "period_start": self.period_start, "period_end": self.period_end,
                "energy_mwh": self.energy_mwh, "evidence_root": self.evidence_root}


def _typed(primary: str, fields: list[dict], values: dict, chain_id: int, committee: str, types: dict | None = None) -> dict:
    return eip712.message(primary, fields, values, name=DOMAIN_NAME, version=DOMAIN_VERSION, chain_id=chain_id,
                          contract=committee, types=types)


def issuance_report(config: int, requests: list[IssuanceRequest], chain_id: int, committee: str) -> dict:
    return _typed("IssuanceReport", ISSUANCE_FIELDS, {"config": config, "requests": [r.as_message() for r in requests]},
                  chain_id, committee, {"IssuanceRequest": REQUEST_FIELDS})


def site_report(config: int, site_id: int, nonce: int, active: bool, *, meter: str, pv_peak_watts: int, battery_wh: int,
                max_gpu_watts: int, chain_id: int, committee: str) -> dict:
    values = {"config": config, "site_id": site_id, "nonce": nonce, "active": active, "meter": meter,
              "pv_peak_watts": pv_peak_watts, "battery_wh": battery_wh, "max_gpu_watts": max_gpu_watts}
    return _typed("SiteReport", SITE_FIELDS, values, chain_id, committee)


def verdict_report(config: int, job_id: int, provider_wins: bool, chain_id: int, committee: str) -> dict:
    return _typed("VerdictReport", VERDICT_FIELDS, {"config": config, "job_id": job_id, "provider_wins": provider_wins},
                  chain_id, committee)


def as_arguments(typed: dict) -> tuple:
    """The report as the contract's struct argument (a tuple, arrays of tuples)."""
    values = typed["message"]
    if typed["primaryType"] == "IssuanceReport":
        return (values["config"], [tuple(request[field["name"]] for field in REQUEST_FIELDS) for request in values["requests"]])
    return tuple(values[field["name"]] for field in typed["types"][typed["primaryType"]])


def ordered(signatures: dict[str, bytes]) -> list[bytes]:
    """{signer address: signature} as the contract takes them: by signer, strictly ascending."""
    return [signatures[signer] for signer in sorted(signatures, key=lambda address: int(address, 16))]


@dataclass(frozen=True)
class CommitteeState:
    config: int
    threshold: int
    members: tuple[str, ...]
    endpoints: dict[str, str]


class CommitteeView:
    """The committee contract's current configuration (a web3 contract), re-read at most every
    `ttl_s`: what members check signatures against and where site agents send samples."""

    def __init__(self, contract, retry, ttl_s: float = 5.0):
        self.contract, self.retry, self.ttl_s = contract, retry, ttl_s
        self.address = contract.address
        self._state: CommitteeState | None = None
        self._read_at = 0.0
        self._lock = threading.Lock()

    def state(self) -> CommitteeState:
        with self._lock:
            if self._state is None or time.monotonic() - self._read_at > self.ttl_s:
                functions = self.contract.functions
                members = tuple(self.retry(lambda: functions.members().call()))
                self._state = CommitteeState(
                    config=self.retry(lambda: functions.config_count().call()),
                    threshold=self.retry(lambda: functions.threshold().call()),
                    members=members,
                    endpoints={m: self.retry(lambda m=m: functions.endpoint_of(m).call()).rstrip("/") for m in members},
                )
                self._read_at = time.monotonic()
            return self._state


def pending_changes(deployed, abis: dict[str, list]) -> list[dict]:
    """The operations waiting in the deployment's AdminTimelock (scheduled, neither executed nor
    cancelled): for each, its target contract, the call decoded against that contract's ABI
    (`abis` by contract name) and when it may execute. Read-only contracts (degen.chain.readonly)."""
    from web3 import Web3

    from degen.chain.readonly import history

    names = {getattr(deployed, field).address: name for field, name in (
        ("committee", "OracleCommittee"), ("market", "JobMarket"), ("registry", "SiteRegistry"), ("rec", "RECToken"),
        ("timelock", "AdminTimelock"))}
    decoders = {address: Web3().eth.contract(abi=abis[name]) for address, name in names.items()}
    timelock = deployed.timelock
    pending = []
    for scheduled in history(deployed, "timelock").CallScheduled.range(deployed.block, timelock.chain_manager.blocks.height + 1):
        operation = bytes(scheduled.id)
        if not timelock.is_operation_pending(operation):
            continue
        target = scheduled.target
        try:
            function, arguments = decoders[target].decode_function_input(bytes(scheduled.payload))
            call = f"{function.fn_name}({', '.join(_shown(value) for value in arguments.values())})"
        except (KeyError, ValueError):
            call = f"0x{bytes(scheduled.payload).hex()[:16]}… (not decoded)"
        pending.append({"id": "0x" + operation.hex(), "target": names.get(target, target), "call": call,
                        "ready_at": timelock.get_timestamp(operation)})
    return pending


def _shown(value) -> str:
    return "0x" + value.hex() if isinstance(value, bytes) else str(value)


KIND_IDS = {name: kind for kind, name in REPORT_KINDS.items()}


def attesters(deployed, kind: str, subject: int) -> list[str] | None:
    """The members who signed the committee's accepted report of `kind` (site, verdict) about
    `subject` (a site id, a job id); None when no such report was accepted."""
    from degen.chain.readonly import history

    committee = history(deployed, "committee")
    found = committee.ReportAccepted.range(0, committee.chain_manager.blocks.height + 1,
                                           search_topics={"kind": KIND_IDS[kind], "subject": subject})
    return list(found[-1].signers) if found else None


def issuance_attesters(deployed, issuance_id: int) -> list[str] | None:
    """The members who signed the issuance report that issued `issuance_id`: the accepted
    report in the same block whose first issuance id is the nearest at or below it; None when
    the issuance came from another issuer."""
    from degen.chain.readonly import history

    committee, rec = history(deployed, "committee"), history(deployed, "rec")
    issued = rec.Issued.range(0, rec.chain_manager.blocks.height + 1, search_topics={"issuance_id": issuance_id})
    if not issued:
        return None
    block = issued[0].block_number
    reports = [r for r in committee.ReportAccepted.range(block, block + 1, search_topics={"kind": KIND_IDS["issuance"]})
               if r.subject <= issuance_id]
    return list(max(reports, key=lambda r: r.subject).signers) if reports else None
