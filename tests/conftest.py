"""Shared fixtures: actors by role, one deployment per session (Ape reverts the chain
after every test), and factories that walk a job through its states."""

from __future__ import annotations

import hashlib
import os

import ape
import pytest
from eth_account import Account
from hypothesis import HealthCheck, settings

from degen import receipts
from degen.deploy import AKRE, deploy_all, grant_operator_roles, through_timelock
from degen.models import EnergyReceipt, GenerationParams, JobTerms, model_id

pytest_plugins = ["tests.daemons"]  # the daemons as processes: worker, oracle, site simulator

MODEL_NAME = "tiny-sd"
MODEL_ID = model_id(MODEL_NAME)
PV_PEAK_WATTS = 10_000
BATTERY_WH = 20_000
MAX_GPU_WATTS = 450
BASE_PRICE = 2 * AKRE
PRICE_PER_KWH = 30 * AKRE
COLLATERAL = 5 * AKRE
MAX_PRICE = 10 * AKRE
FEE_BPS = 250


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist, absent with -p no:xdist
def pytest_xdist_setupnodes(config, specs):
    """Parallel runs (`-n N`): each test process gets an anvil of its own on a free port. Ape's
    foundry provider starts one at APE_FOUNDRY_HOST (the worker's environment, set before its
    pytest starts), and the CLI, daemons and demo a test starts inherit it, so they talk to
    that process's chain as they do to 127.0.0.1:8545 in a serial run."""
    from degen.processes import free_port

    for spec in specs:
        spec.env.setdefault("APE_FOUNDRY_HOST", f"http://127.0.0.1:{free_port()}")


@pytest.fixture(scope="session", autouse=True)
def revert_reasons_without_source_tracebacks():
    """Ape sends a local chain's transactions without estimating gas, so one that reverts is
    mined, and Ape then builds a Vyper source traceback for the error from the transaction's
    opcode trace. Through nested calls (the timelock, the router) one such traceback took
    about 10 s, and they were a quarter of the contract tests' time. The tests check revert
    reasons only, which the node's answer carries: the tracebacks are left out."""
    import ape.exceptions

    patch = pytest.MonkeyPatch()
    patch.setattr(ape.exceptions, "_get_ape_traceback_from_tx", lambda txn: None)
    yield
    patch.undo()


@pytest.fixture(scope="session")
def deployer(accounts):
    return accounts[0]


@pytest.fixture(scope="session")
def requester(accounts):
    return accounts[1]


@pytest.fixture(scope="session")
def provider(accounts):
    return accounts[2]


@pytest.fixture(scope="session")
def attacker(accounts):
    return accounts[3]


@pytest.fixture(scope="session")
def treasury(accounts):
    return accounts[4]


@pytest.fixture(scope="session")
def arbiter(accounts):
    return accounts[5]


@pytest.fixture(scope="session")
def meter():
    """The site's meter key, held by the worker (an eth-account key, not a node account)."""
    return Account.from_key(b"\x11" * 32)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """The tiny random Stable Diffusion pipeline on disk, built once per session."""
    from degen.inference.tiny_model import write_tiny_pipeline

    return write_tiny_pipeline(tmp_path_factory.mktemp("models") / MODEL_NAME)


@pytest.fixture(scope="session")
def contracts(project, deployer, treasury, arbiter, requester, provider, attacker):
    deployed = deploy_all(project, deployer, treasury=treasury.address, fee_bps=FEE_BPS, admin_delay=0)
    # The contracts' own tests act as registrar and issuer (the deployer) and arbiter directly,
    # beside the committee: roles granted through the timelock, as governance would.
    grant_operator_roles(deployed, deployer, registrar=deployer.address, issuer=deployer.address, arbiter=arbiter.address)
    for account in (requester, provider, attacker):
        deployed.token.transfer(account, 1_000 * AKRE, sender=deployer)
    return deployed


@pytest.fixture(scope="session")
def govern(contracts, deployer):
    """Runs admin calls ((contract, calldata) each) through the deployment's AdminTimelock, as
    governance does (its delay is 0 here): the deployer holds no admin role itself."""
    from itertools import count

    salts = count(1)

    def run(*calls):
        through_timelock(contracts, deployer, calls, salt=next(salts).to_bytes(32, "big"))

    return run


@pytest.fixture(scope="session")
def deployment_dir(contracts, deployer, chain, tmp_path_factory):
    """This session's deployment as a deployments file, for the CLI and daemons in their own processes."""
    from degen import deployments
    from degen.deploy import record_of

    record = record_of(contracts, network="ethereum:local", chain_id=chain.chain_id, block=chain.blocks.height,
                       deployer=deployer.address)
    directory = tmp_path_factory.mktemp("deployments")
    deployments.save(record, directory)
    return directory


@pytest.fixture
def cli(deployment_dir):
    """Runs a `degen` command (its words after `degen`) on the test chain; returns the finished process."""
    import subprocess

    from degen.processes import degen

    def run(*args: str) -> subprocess.CompletedProcess:
        argv = degen(*args, "--network", "ethereum:local:foundry", "--deployments", str(deployment_dir))
        return subprocess.run(argv, capture_output=True, text=True, timeout=120)

    return run


@pytest.fixture(scope="session")
def token(contracts):
    return contracts.token


@pytest.fixture(scope="session")
def registry(contracts):
    return contracts.registry


@pytest.fixture(scope="session")
def market(contracts):
    return contracts.market


@pytest.fixture(scope="session")
def rec(contracts):
    return contracts.rec


@pytest.fixture(scope="session")
def certificate(contracts):
    return contracts.certificate


@pytest.fixture(scope="session")
def site_id(registry, provider, deployer, meter):
    """Bob's site: 10 kW PV, 20 kWh battery, a 450 W GPU; active."""
    tx = registry.register_site(meter.address, PV_PEAK_WATTS, BATTERY_WH, MAX_GPU_WATTS, "BR", sender=provider)
    site_id = tx.return_value
    registry.activate(site_id, sender=deployer)
    return site_id


@pytest.fixture(scope="session")
def offer_id(market, token, provider, site_id):
    """Bob's offer, with 100 AKRE of stake behind it."""
    token.approve(market, 2**256 - 1, sender=provider)
    market.deposit_stake(100 * AKRE, sender=provider)
    tx = market.create_offer(site_id, MODEL_ID, 1024, 1024, 50, BASE_PRICE, PRICE_PER_KWH, COLLATERAL, False, sender=provider)
    return tx.return_value


@pytest.fixture(scope="session")
def params():
    return GenerationParams(width=512, height=512, steps=20, guidance_x100=750, seed=42)


PROMPT = "A quick brown fox jumps over the lazy dog"


@pytest.fixture(scope="session")
def create_job(market, token, requester, offer_id, params, chain):
    """Factory: posts a job (directed at Bob's offer unless told otherwise) and returns its id."""

    def create(sender=None, prompt=PROMPT, params=params, **terms):
        sender = sender or requester
        terms.setdefault("offer_id", offer_id)
        terms.setdefault("max_price", MAX_PRICE)
        terms.setdefault("deadline", chain.pending_timestamp + 3600)
        terms.setdefault("challenge_window", 600)
        token.approve(market, terms["max_price"], sender=sender)
        raw_params = params.as_tuple() if isinstance(params, GenerationParams) else params  # raw: what the SDK would refuse
        tx = market.create_job(JobTerms(**terms).as_tuple(), prompt, raw_params, sender=sender)
        return tx.return_value

    return create


@pytest.fixture(scope="session")
def make_receipt(market, chain):
    """Factory: a consistent receipt for `job_id` that fits inside the job's accept..now window."""

    def make(job_id, energy_mwh=1_500, started_at=None, duration=30, meter_start=None, result=b"png-bytes"):
        started_at = started_at if started_at is not None else market.job(job_id).state_since
        meter_start = meter_start if meter_start is not None else market.meter_register(market.offer(market.job(job_id).offer_id).site_id)
        return EnergyReceipt(
            job_id=job_id,
            result_hash=hashlib.sha256(result).digest(),
            started_at=started_at,
            finished_at=started_at + duration,
            energy_mwh=energy_mwh,
            meter_start=meter_start,
            meter_end=meter_start + energy_mwh,
        )

    return make


@pytest.fixture(scope="session")
def sign(market, chain, meter):
    """Signs a receipt with the meter key (or another key), as the worker does."""

    def sign_with(receipt, key=None):
        return receipts.sign(receipt, key or meter, chain.chain_id, market.address)

    return sign_with


@pytest.fixture(scope="session")
def accepted_job(create_job, market, provider, offer_id, chain):
    def accepted(**terms):
        job_id = create_job(**terms)
        market.accept(job_id, offer_id, sender=provider)
        chain.pending_timestamp += 60
        return job_id

    return accepted


@pytest.fixture(scope="session")
def delivered_job(accepted_job, market, provider, make_receipt, sign):
    def delivered(energy_mwh=1_500, **terms):
        job_id = accepted_job(**terms)
        receipt = make_receipt(job_id, energy_mwh=energy_mwh)
        market.deliver(job_id, receipt.as_tuple(), sign(receipt), sender=provider)
        return job_id

    return delivered


@pytest.fixture
def processes():
    """Starts child processes (`argv`, extra environment) for a test and stops every one of
    them when it ends."""
    from degen.processes import Process

    started = []

    def start(argv: list[str], env: dict | None = None) -> Process:
        started.append(Process(argv, env))
        return started[-1]

    yield start
    for process in started:
        process.stop()


def write_config(path, schema, config: dict, sections: dict) -> str:
    """Writes a daemon's TOML config: `config` with each of `sections` merged into its section."""
    from degen.daemon.config import to_toml

    for section, values in sections.items():
        config[section] = {**config.get(section, {}), **values}
    path.write_text(to_toml(schema.model_validate(config)))
    return str(path)


class ProviderEndpoint:
    """A provider's result server as a test stages it: `serve` what it answers for a job."""

    def __init__(self):
        self.url = ""
        self.results: dict[int, tuple[str, bytes]] = {}  # job id -> (requester, PNG)
        self.computations: dict[int, dict] = {}  # job id -> the /receipts metadata it publishes
        self.progress: dict[int, dict] = {}  # job id -> what /progress answers

    def serve(self, job_id: int, requester: str, png: bytes, computation=None) -> None:
        self.results[job_id] = (requester, png)
        if computation is not None:
            self.computations[job_id] = computation.model_dump(mode="json")


@pytest.fixture
def endpoint_origins() -> list[str]:
    """The web origins `provider_endpoint` lets download across origins (the browser tests' page)."""
    return []


@pytest.fixture
def provider_endpoint(market, contracts, chain, endpoint_origins):
    """Bob's result server (the worker's FastAPI app) serving whatever a test stages in it,
    with the same arbiter check the worker uses."""
    from web3 import HTTPProvider, Web3

    from degen.http import ServerThread
    from degen.contracts import abi_of
    from degen.chain.market import MarketClient
    from worker.server import Result, create_app

    endpoint = ProviderEndpoint()
    web3 = Web3(HTTPProvider(chain.provider.uri))
    committee = contracts.committee
    client = MarketClient(web3, market.address, abi_of(market.contract_type), market.address, abi_of(market.contract_type), None,
                          committee=web3.eth.contract(address=committee.address, abi=abi_of(committee.contract_type)))
    pngs = {}

    def lookup(job_id):
        if job_id not in endpoint.results:
            return None
        requester, png = endpoint.results[job_id]
        digest = hashlib.sha256(png).digest()
        pngs[digest] = png
        return Result(requester, digest, "cid")

    def receipts(job_id):
        return {"metadata": endpoint.computations[job_id]} if job_id in endpoint.computations else None

    app = create_app(lookup, pngs.get, chain_id=chain.chain_id, market=market.address, health=dict,
                     metrics_registry=None, is_arbiter=client.is_arbiter, receipts=receipts, allowed_origins=endpoint_origins,
                     progress=endpoint.progress.get)
    server = ServerThread(app, "127.0.0.1", 0)
    endpoint.url = f"http://127.0.0.1:{server.start()}"
    yield endpoint
    server.stop()


@pytest.fixture(scope="session")
def reverts():
    return ape.reverts


def stateful_settings(steps: int) -> settings:
    """Settings of the Hypothesis state machines: derandomized, so a coverage guard after the
    run is stable; the example count comes from DEGEN_STATEFUL_EXAMPLES."""
    return settings(
        max_examples=int(os.environ.get("DEGEN_STATEFUL_EXAMPLES", "25")),
        stateful_step_count=steps,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
    )


EVIDENCE_ROOT = b"\xee" * 32


@pytest.fixture(scope="session")
def issue_recs(rec, deployer, chain):
    """Factory: issues `energy_mwh` RECs to a site's owner for the next free past hour."""

    def issue(site_id, energy_mwh=1_000_000, period=3600):
        start = max(rec.high_water_mark(site_id), chain.pending_timestamp - 30 * 86400)
        end = start + period
        if end > chain.pending_timestamp:
            chain.pending_timestamp = end + 1
        return rec.issue(site_id, start, end, energy_mwh, EVIDENCE_ROOT, sender=deployer)

    return issue


@pytest.fixture
def green_offer(market, rec, provider, site_id, issue_recs):
    """Bob's green offer, with 1 kWh of RECs issued to him and approved to the market."""
    offer = market.create_offer(
        site_id, MODEL_ID, 1024, 1024, 50, BASE_PRICE, PRICE_PER_KWH, COLLATERAL, True, sender=provider
    ).return_value
    issue_recs(site_id, 1_000_000)
    rec.approve(market, 2**256 - 1, sender=provider)
    return offer
