"""Typed reads of the deployed contracts through Ape, and the Ape project that types them.
Functions take contract instances, so the CLI, the daemons and the tests share them; nothing
here connects to a network."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from degen.deployments import Deployment
from degen.errors import InvalidInput
from degen.models import Certificate, Issuance, Job, Offer


def abi_of(contract_type) -> list[dict]:
    """An Ape ContractType's ABI as the JSON list web3 (and any other client) takes."""
    return [entry.model_dump(mode="json", by_alias=True, exclude_none=True) for entry in contract_type.abi]


class Deployed(NamedTuple):
    """Ape contract instances of one deployment."""

    token: Any
    registry: Any
    market: Any
    rec: Any
    certificate: Any
    pool: Any
    router: Any
    committee: Any
    timelock: Any
    channels: Any
    block: int = 0  # the deployment's first block: reads of its history start there


def at(project: Any, deployment: Deployment) -> Deployed:
    """The contracts of `deployment`, typed by the project's compiled contract types."""
    return Deployed(
        project.AkreToken.at(deployment.token),
        project.SiteRegistry.at(deployment.registry),
        project.JobMarket.at(deployment.market),
        project.RECToken.at(deployment.rec_token),
        project.RetirementCertificate.at(deployment.certificate),
        project.EnergyPool.at(deployment.pool),
        project.GreenRouter.at(deployment.router),
        project.OracleCommittee.at(deployment.committee),
        project.AdminTimelock.at(deployment.timelock),
        project.JobChannels.at(deployment.channels),
        deployment.block,
    )


def ape_project():
    """The DeGEN Ape project (its compiled contract types), wherever the command runs from."""
    import os
    import sys

    # ape-vyper finds the compiler on PATH; the venv's bin holds it.
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    from ape import Project

    return Project(Path(__file__).resolve().parents[1])


def _fields(struct: Any) -> dict:
    return dict(struct.items()) if hasattr(struct, "items") else struct.__dict__


def job(market: Any, job_id: int) -> Job:
    record = _fields(market.job(job_id))
    if int(record["state"]) == 0:
        raise InvalidInput(f"there is no job {job_id}")
    return Job(job_id=job_id, **record)


def offer(market: Any, offer_id: int) -> Offer:
    record = _fields(market.offer(offer_id))
    if int(str(record["provider"]), 16) == 0:
        raise InvalidInput(f"there is no offer {offer_id}")
    return Offer(offer_id=offer_id, **record)


def issuance(deployed: Deployed, issuance_id: int) -> Issuance:
    """An issuance record, with the evidence root from its Issued event."""
    from degen.chain.readonly import history

    rec = deployed.rec
    if not 0 < issuance_id <= rec.issuance_count():
        raise InvalidInput(f"there is no issuance {issuance_id}")
    record = _fields(rec.issuance(issuance_id))
    issued = next(iter(history(deployed, "rec").Issued.range(0, rec.chain_manager.blocks.height + 1,
                                                             search_topics={"issuance_id": issuance_id})))
    return Issuance(issuance_id=issuance_id, evidence_root=bytes(issued.evidence_root), **record)


def certificate(certificates: Any, certificate_id: int) -> Certificate:
    if not 0 < certificate_id <= certificates.totalSupply():
        raise InvalidInput(f"there is no certificate {certificate_id}")
    return Certificate(certificate_id=certificate_id, **_fields(certificates.certificate(certificate_id)))
