"""Where the contracts of one network live: `deployments/<ecosystem>-<network>.json`,
written by scripts/deploy.py and read by the SDK, CLI and daemons."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from degen.errors import DeploymentNotFound

DEFAULT_DIR = Path("deployments")


class Deployment(BaseModel):
    """Addresses and parameters of one deployment."""

    model_config = ConfigDict(frozen=True)

    network: str
    chain_id: int
    block: int
    deployer: str
    token: str
    registry: str
    market: str
    rec_token: str
    certificate: str
    pool: str
    router: str
    committee: str  # the OracleCommittee: issuer, registrar and arbiter
    timelock: str  # the AdminTimelock: admin of every role and of the committee
    channels: str  # JobChannels: pay-as-you-go channels between a requester and a site
    treasury: str
    fee_bps: int
    dispute_bond: int


def file_for(network: str, directory: Path = DEFAULT_DIR) -> Path:
    """`ethereum:local` (or `ethereum:local:foundry`) -> deployments/ethereum-local.json; an RPC
    URL given as the network (`http://127.0.0.1:8545`), which Ape names `ethereum:custom` ->
    deployments/ethereum-custom.json."""
    if network.startswith(("http://", "https://", "ws://", "wss://")):
        network = "ethereum:custom"
    ecosystem, name, *_ = (network.split(":") + ["", ""])[:3]
    if not ecosystem or not name:
        raise ValueError(f"network must look like 'ecosystem:network', got {network!r}")
    return directory / f"{ecosystem}-{name}.json"


def save(deployment: Deployment, directory: Path = DEFAULT_DIR) -> Path:
    """Writes the deployment atomically (a crash never leaves half a file)."""
    path = file_for(deployment.network, directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(deployment.model_dump(), indent=2) + "\n")
    os.replace(tmp, path)
    return path


def load(network: str, directory: Path = DEFAULT_DIR) -> Deployment:
    path = file_for(network, directory)
    if not path.exists():
        raise DeploymentNotFound(
            f"no deployment for {network} at {path}: the network's operator publishes its deployment file; put it there "
            "(or name its folder: [chain] deployments, --deployments), or deploy your own (`ape run deploy`, README "
            "'Deploying elsewhere')")
    return Deployment.model_validate_json(path.read_text())
