"""The oracle committee's reports, as its members sign them: EIP-712 typed data in the domain
"DeGEN committee"/"1" of the OracleCommittee contract, for REC issuance (a batch of
site-periods), a site decision (activate or suspend, with the meter key and limits the
registry holds) and a dispute's verdict. Each names the committee's configuration count, so
a report signed before a change of members or threshold is refused after it. The contract
takes `threshold` signatures ordered by signer address, strictly ascending (`ordered`)."""

from __future__ import annotations

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
