"""The daemons as the tests run them: real `degen worker run`, `degen oracle run` and
`degen site simulate` processes on 127.0.0.1 against the session's anvil, each with a config
written from its schema. Loaded for every test as a pytest plugin (tests/conftest.py)."""

from __future__ import annotations

import pytest
from eth_account import Account

from degen.processes import Process, degen, free_port, running
from oracle.config import OracleConfig
from tests.conftest import MODEL_NAME, write_config
from worker.config import WorkerConfig

WORKER_READY = "worker ready"
ORACLE_READY = "oracle ready"
MODEL_WATTS = 60  # the worker's declared power-model estimate, below the site's 450 W bound


@pytest.fixture
def site_port():
    """A sunny noon with a full battery, frozen in time."""
    port = free_port()
    with running(degen("site", "simulate", "--port", str(port), "--speed", "0", "--soc", "80"), ready="SunSpec site simulator on"):
        yield port


@pytest.fixture
def worker_config(tmp_path, deployment_dir, provider, meter, offer_id, tiny_model, chain, site_port):
    """Writes a worker.toml for Bob's offer; keyword arguments replace keys of a section."""
    (tmp_path / "provider.key").write_text(provider.private_key)
    (tmp_path / "meter.key").write_text(meter.key.hex())
    start_block = chain.blocks.height + 1

    def write(offers=(offer_id,), **sections) -> str:
        config = {
            "data_dir": "data", "offers": list(offers), "models": {MODEL_NAME: str(tiny_model)},
            "chain": {"rpc_url": chain.provider.uri, "network": "ethereum:local", "deployments": str(deployment_dir),
                      "confirmations": 0, "poll_interval_s": 0.2, "start_block": start_block},
            "account": {"provider_key_file": "provider.key", "meter_key_file": "meter.key"},
            "site": {"site_id": 1, "modbus_port": site_port, "read_interval_s": 0.5},
            "compute": {"device": "cpu", "meter": "model", "model_watts": MODEL_WATTS, "max_batch": 4},
            "server": {"port": 0},
        }
        return write_config(tmp_path / "worker.toml", WorkerConfig, config, sections)

    return write


@pytest.fixture
def start_worker(worker_config, processes):
    """Starts `degen worker run`; every worker started is stopped when the test ends."""

    def start(config: str | None = None, kill_at: str | None = None, wait_ready: bool = True) -> Process:
        env = {"DEGEN_WORKER_KILL_AT": kill_at} if kill_at else {}
        process = processes(degen("worker", "run", "--config", config or worker_config()), env)
        if wait_ready:
            process.wait_for(WORKER_READY, timeout=120)
        return process

    return start


def server_url(worker: Process) -> str:
    return worker.wait_for(r"result server listening url=(\S+)").group(1)


def seat_committee(contracts, deployer, govern, members: list[tuple[str, str]], threshold: int) -> None:
    """Makes `members` ((address, endpoint) each, bonded by the deployer) the committee with
    `threshold`, through the timelock: newcomers added and the others removed, the threshold a
    majority at every step."""
    committee = contracts.committee
    size, calls = len(committee.members()), []
    for address, endpoint in members:
        if committee.bond_of(address) < committee.min_bond():
            contracts.token.approve(committee, committee.min_bond(), sender=deployer)
            committee.post_bond_for(address, committee.min_bond(), sender=deployer)
        if not committee.is_member(address):
            size += 1
            calls.append((committee, committee.add_member.encode_input(address, endpoint, size // 2 + 1)))
    wanted = {address for address, _ in members}
    for member in committee.members():
        if member not in wanted:
            size -= 1
            calls.append((committee, committee.remove_member.encode_input(member, size // 2 + 1)))
    if calls:
        govern(*calls)
    if committee.threshold() != threshold:
        govern((committee, committee.set_threshold.encode_input(threshold)))


@pytest.fixture
def oracle_key(contracts, deployer, govern):
    """The operator's key, funded, bonded and the committee's only member (1 of 1): its
    oracle signs every report alone."""
    key = Account.from_key(b"\x33" * 32)
    deployer.transfer(key.address, 10**20)
    seat_committee(contracts, deployer, govern, [(key.address, "http://127.0.0.1:8800")], 1)
    return key


@pytest.fixture
def oracle_config(tmp_path, deployment_dir, chain, oracle_key, tiny_model):
    """Writes an oracle.toml; keyword arguments replace keys of a section."""
    (tmp_path / "oracle.key").write_text(oracle_key.key.hex())
    start_block = chain.blocks.height + 1

    def write(database: str = "", **sections) -> str:
        config = {
            "data_dir": "oracle-data", "database": database, "models": {MODEL_NAME: str(tiny_model)},
            "chain": {"rpc_url": chain.provider.uri, "network": "ethereum:local", "deployments": str(deployment_dir),
                      "poll_interval_s": 0.2, "start_block": start_block},
            "account": {"key_file": "oracle.key"},
            "ingest": {"port": 0, "site_cache_s": 0},
            "issuance": {"interval_s": 0.5},
            "committee": {"transmit_delay_s": 0},
            "keeper": {},
            "verify": {"device": "cpu", "attempts": 2},
        }
        return write_config(tmp_path / "oracle.toml", OracleConfig, config, sections)

    return write


@pytest.fixture
def start_oracle(oracle_config, processes):
    """Starts `degen oracle run` (ready, unless it is to be killed); stopped when the test ends."""

    def start(config: str | None = None, kill_at: str | None = None) -> Process:
        process = processes(degen("oracle", "run", "--config", config or oracle_config()), {"DEGEN_ORACLE_KILL_AT": kill_at} if kill_at else {})
        if kill_at is None:
            process.wait_for(ORACLE_READY, timeout=60)
        return process

    return start


def api_url(oracle: Process) -> str:
    return oracle.wait_for(r"oracle ready .*api=(\S+)").group(1)
