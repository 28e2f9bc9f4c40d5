"""What a requester does, through Ape: pick an offer, post a job (with a permit for the escrow),
follow it until delivery, download the result from the provider's published endpoint with a
wallet signature, check it against the chain, and settle. The `degen` CLI and the demo both
run these; every refusal is a RequesterError with one sentence saying what to do."""

from __future__ import annotations

import hashlib
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import requests

from degen import contracts, downloads, eip712, permit
from degen.chain.heads import NewBlocks
from degen.chain.readonly import history
from degen.contracts import Deployed
from degen.errors import DegenError
from degen.models import GenerationParams, Job, JobState, JobTerms, Offer, Speed, check_prompt, job_price

AKRE = 10**18
POLL_S = 0.5
DOWNLOAD_VALIDITY_S = 300
PERMIT_VALIDITY_S = 600


class RequesterError(DegenError, RuntimeError):
    """A requester's action cannot go ahead; the message says why and what to do."""


@dataclass(frozen=True)
class Delivery:
    """What JobDelivered said about a job."""

    provider: str
    site_id: int
    result_hash: bytes
    energy_mwh: int
    started_at: int
    finished_at: int
    block: int


@dataclass(frozen=True)
class Settlement:
    price: int
    fee: int
    refund: int


def akre(amount: int) -> str:
    """Base units as AKRE, e.g. 2.66 AKRE."""
    return f"{amount / AKRE:,.6f}".rstrip("0").rstrip(".") + " AKRE"


def active_offers(market) -> list[Offer]:
    offers = (contracts.offer(market, offer_id) for offer_id in range(1, market.offer_count() + 1))
    return [offer for offer in offers if offer.active]


def choose_offer(market, params: GenerationParams, *, offer_id: int | None, model_id: bytes | None, green: bool,
                 max_price: int) -> Offer:
    """The offer a job goes to: the one named, else the cheapest active offer that fits
    (model, size, steps, green, a base price within `max_price`) by base price."""
    if offer_id is not None:
        offer = contracts.offer(market, offer_id)
        problem = _misfit(offer, params, model_id, green, max_price)
        if problem:
            raise RequesterError(f"offer {offer_id} {problem}")
        return offer
    fitting = [o for o in active_offers(market) if not _misfit(o, params, model_id, green, max_price)]
    if not fitting:
        wanted = f"{params.width}x{params.height}, {params.steps} steps{', green' if green else ''} for at most {akre(max_price)}"
        raise RequesterError(f"no active offer serves {wanted}; see `degen offers`")
    return min(fitting, key=lambda o: (o.base_price, o.price_per_kwh, o.offer_id))


def _misfit(offer: Offer, params: GenerationParams, model_id: bytes | None, green: bool, max_price: int) -> str | None:
    if not offer.active:
        return "is closed"
    if offer.base_price > max_price:
        return f"asks a base price of {akre(offer.base_price)}, above your max price of {akre(max_price)}"
    if model_id is not None and offer.model_id != model_id:
        return "serves another model"
    if params.width > offer.max_width or params.height > offer.max_height:
        return f"takes at most {offer.max_width}x{offer.max_height}"
    if params.steps > offer.max_steps:
        return f"takes at most {offer.max_steps} steps"
    if green and not offer.green:
        return "is not green"
    return None


def post_job(deployed: Deployed, account, prompt: str, params: GenerationParams, terms: JobTerms) -> tuple[int, int]:
    """Creates the job, with a permit for the escrow when the market's allowance does not
    cover it; returns (job id, block)."""
    check_prompt(prompt)
    token, market = deployed.token, deployed.market
    balance = token.balanceOf(account.address)
    if balance < terms.max_price:
        raise RequesterError(
            f"insufficient balance: {account.address} has {akre(balance)}, the job escrows up to {akre(terms.max_price)}"
        )
    if token.allowance(account.address, market.address) >= terms.max_price:
        tx = transact(market.create_job, terms.as_tuple(), prompt, params.as_tuple(), sender=account)
    else:  # one transaction: an EIP-2612 permit for the escrow travels with the job
        signed = signed_permit(deployed, account, market.address, terms.max_price)
        tx = transact(market.create_job_with_permit, terms.as_tuple(), prompt, params.as_tuple(), *signed, sender=account)
    return tx.return_value, tx.block_number


def follow(deployed: Deployed, job_id: int, since_block: int, *, on_change: Callable[[Job], None],
           timeout_s: float | None = None, while_accepted: Callable[[Job], None] = lambda job: None) -> Job:
    """Follows the job, posted in block `since_block`, until it is delivered or ends: reads it
    once, then learns of each change from the market's logs about it in each new block (one
    eth_getLogs a block, `degen.chain.heads`), reading the job again only when one came.
    Calls `on_change` with each new state and `while_accepted` every POLL_S while a provider
    works on it; raises RequesterError when its deadline passes undelivered (the escrow can
    then be reclaimed) or it ends otherwise."""
    market = history(deployed, "market")
    clock = market.chain_manager
    blocks = NewBlocks(lambda: clock.height, seen=since_block)
    job, started = contracts.job(deployed.market, job_id), time.monotonic()
    chain_ahead = clock.pending_timestamp - time.time()  # the chain's clock, estimated between blocks
    on_change(job)
    while True:
        if job.state == JobState.ACCEPTED:
            while_accepted(job)
        if job.state & (JobState.DELIVERED | JobState.SETTLED | JobState.DISPUTED):
            return job
        if job.state & (JobState.CANCELLED | JobState.EXPIRED | JobState.REFUNDED):
            raise RequesterError(f"job {job_id} ended {job.state.name.lower()} without a delivery")
        if time.time() + chain_ahead > job.deadline and clock.pending_timestamp > job.deadline:
            raise RequesterError(
                f"job {job_id} passed its deadline undelivered; `degen cancel {job_id}` (open) or the keeper's expire refunds it"
            )
        if timeout_s is not None and time.monotonic() - started > timeout_s:
            raise RequesterError(f"job {job_id} is still {job.state.name.lower()} after {timeout_s:.0f} s; follow it with `degen job show {job_id}`")
        read_to = blocks.seen
        if blocks.wait(POLL_S) and market.logs_about("job_id", job_id, read_to + 1, blocks.seen + 1):
            state, job = job.state, contracts.job(deployed.market, job_id)
            if job.state != state:
                on_change(job)


@dataclass(frozen=True)
class Estimate:
    """What a job is likely to take at a site, from the speed its worker measured."""

    seconds: float
    energy_mwh: int | None  # None: the site has not measured its draw yet
    price: int  # at least this (the base price alone when the energy is unknown)


DEFAULT_SIDE, DEFAULT_STEPS = 512, 20  # Stable Diffusion's usual image, where a site is fast enough
DEFAULT_BUDGET_S = 120  # unasked for, a job's size is cut to fit about this much compute at the site


def site_speed(deployed: Deployed, site_id: int) -> Speed | None:
    """The speed the site's worker publishes at the site's endpoint; None when it publishes
    none, cannot be reached, or publishes nonsense (an endpoint is anyone's server)."""
    endpoint = deployed.registry.endpoint_of(site_id).rstrip("/")
    if not endpoint:
        return None
    try:
        return Speed(**requests.get(f"{endpoint}/health", timeout=3).json()["speed"])
    except (requests.RequestException, ValueError, KeyError, TypeError):  # InvalidInput is a ValueError
        return None


def estimate(offer: Offer, params: GenerationParams, max_price: int, speed: Speed) -> Estimate:
    """The job's compute time, energy and price at the offer's site at `speed`."""
    seconds = params.width * params.height * params.steps / 1e6 * speed.seconds_per_megapixel_step
    energy = None if speed.watts is None else round(speed.watts * seconds / 3.6)  # 1 mWh = 3.6 J
    return Estimate(seconds, energy, job_price(offer.base_price, offer.price_per_kwh, energy or 0, max_price))


def default_shape(offer: Offer, speed: Speed | None, budget_s: float = DEFAULT_BUDGET_S) -> tuple[int, int, int]:
    """(width, height, steps) for a job that names none: 512×512 at 20 steps within the offer's
    bounds, halved (side first, down to 64 px, then steps, down to 4) while the site's speed
    says it would take more than `budget_s`."""
    side = max(64, min(DEFAULT_SIDE, offer.max_width, offer.max_height) // 8 * 8)
    steps = min(DEFAULT_STEPS, offer.max_steps)
    while speed is not None and side * side * steps / 1e6 * speed.seconds_per_megapixel_step > budget_s:
        if side > 64:
            side = max(64, side // 2 // 8 * 8)
        elif steps > 4:
            steps = max(4, steps // 2)
        else:
            break
    return side, side, steps


@dataclass(frozen=True)
class Progress:
    """Where a provider's worker says it is with a job; step and steps while generating, and
    why it waits where it waits."""

    state: str
    step: int | None = None
    steps: int | None = None
    eta_s: float | None = None
    waiting: str | None = None


MAX_REASON = 300  # characters of a worker's reason shown to a requester


def progress(endpoint: str, job_id: int) -> Progress | None:
    """`GET /progress/{job_id}` at the provider's endpoint; None when it does not answer, or
    answers something that is not a worker's progress (an endpoint is anyone's server)."""
    try:
        found = requests.get(f"{endpoint.rstrip('/')}/progress/{job_id}", timeout=2)
        body = found.json() if found.status_code == 200 else None
        if not isinstance(body, dict) or not isinstance(body.get("state"), str) or len(body["state"]) > 20:
            return None
        waiting = body.get("waiting")
        waiting = waiting[:MAX_REASON] if isinstance(waiting, str) and waiting.isprintable() else None
        if body["state"] != "generating":
            return Progress(body["state"], waiting=waiting)
        step, steps, eta = int(body["step"]), int(body["steps"]), body.get("eta_s")
        eta = None if eta is None else float(eta)
    except (requests.RequestException, ValueError, KeyError, TypeError):
        return None
    if not 0 <= step <= steps <= 10_000 or (eta is not None and not 0 <= eta < 1e7):
        return None
    return Progress("generating", step, steps, eta)


def delivery(deployed: Deployed, job_id: int, from_block: int) -> Delivery:
    market = history(deployed, "market")
    logs = list(market.JobDelivered.range(from_block, market.chain_manager.blocks.height + 1, search_topics={"job_id": job_id}))
    if not logs:
        raise RequesterError(f"job {job_id} has no delivery on chain")
    args = logs[-1].event_arguments
    return Delivery(args["provider"], args["site_id"], bytes(args["result_hash"]), args["energy_mwh"], args["started_at"],
                    args["finished_at"], logs[-1].block_number)


def download(deployed: Deployed, account, job_id: int, found: Delivery, *, timeout_s: float = 30.0) -> bytes:
    """The result from the provider's published endpoint, signed for by `account`, checked
    against the delivered hash."""
    endpoint = deployed.registry.endpoint_of(found.site_id).rstrip("/")
    if not endpoint:
        raise RequesterError(f"site {found.site_id} publishes no result endpoint; ask the provider {found.provider}")
    chain_id = deployed.market.chain_manager.chain_id
    expiry = int(time.time()) + DOWNLOAD_VALIDITY_S  # the endpoint checks it against its own clock, not the chain's
    signature = sign_typed(account, downloads.typed_data(job_id, expiry, chain_id, deployed.market.address))
    try:
        response = downloads.fetch(endpoint, job_id, expiry, signature, timeout_s=timeout_s)
    except requests.RequestException as exc:
        raise RequesterError(f"the provider's endpoint {endpoint} is unreachable ({type(exc).__name__})") from None
    if response.status_code != 200:
        raise RequesterError(f"the provider's endpoint {endpoint} answered {response.status_code}: {_detail(response)}")
    if hashlib.sha256(response.content).digest() != found.result_hash:
        raise RequesterError(
            f"hash mismatch: the image served for job {job_id} is not the one delivered on chain; "
            f"dispute it with `degen dispute {job_id}` before its challenge window closes"
        )
    return response.content


def settle(market, account, job_id: int) -> Settlement:
    tx = transact(market.settle, job_id, sender=account)
    settled = tx.decode_logs(market.JobSettled)[0]
    return Settlement(settled.price, settled.fee, settled.refund)


def certificate_for(deployed: Deployed, job_id: int, block: int) -> int | None:
    """The retirement certificate minted for a green job's delivery (in its block), if any."""
    for log in history(deployed, "rec").Retired.range(block, block + 1):
        if log.job_id == job_id:
            return log.certificate_id
    return None


JOB_EVENTS = ("JobCreated", "JobAccepted", "JobDelivered", "JobSettled", "JobCancelled", "JobExpired", "JobDisputed",
              "JobResolved", "JobRefunded")


def job_history(deployed: Deployed, job_id: int) -> dict[str, dict]:
    """What the market logged for a job, by event name: its arguments (each event at most once
    per job)."""
    market = history(deployed, "market")
    head = market.chain_manager.blocks.height + 1
    logged = {}
    for name in JOB_EVENTS:
        for log in getattr(market, name).range(0, head, search_topics={"job_id": job_id}):
            logged[name] = dict(log.event_arguments)
    return logged


def my_jobs(deployed: Deployed, address: str) -> list[Job]:
    logs = history(deployed, "market").JobCreated.range(0, deployed.market.chain_manager.blocks.height + 1,
                                                        search_topics={"requester": address})
    return [contracts.job(deployed.market, log.job_id) for log in logs]


def dispute(deployed: Deployed, account, job_id: int) -> int:
    """Disputes a delivery (approving the bond first); returns the bond."""
    market, token = deployed.market, deployed.token
    job = contracts.job(market, job_id)
    if job.requester.lower() != account.address.lower():
        raise RequesterError(f"job {job_id} is not yours: only its requester {job.requester} may dispute it")
    if job.state != JobState.DELIVERED:
        raise RequesterError(f"job {job_id} is {job.state.name.lower()}: only a delivered job can be disputed")
    bond = market.dispute_bond()
    if token.balanceOf(account.address) < bond:
        raise RequesterError(f"insufficient balance for the dispute bond of {akre(bond)}")
    if token.allowance(account.address, market.address) < bond:
        token.approve(market.address, bond, sender=account)
    transact(market.dispute, job_id, sender=account)
    return bond


def cancel(market, account, job_id: int) -> int:
    """Cancels an open job of `account`; returns the refund."""
    job = contracts.job(market, job_id)
    if job.requester.lower() != account.address.lower():
        raise RequesterError(f"job {job_id} is not yours: only its requester {job.requester} may cancel it")
    if job.state != JobState.OPEN:
        raise RequesterError(f"job {job_id} is {job.state.name.lower()}: only an open job can be cancelled")
    return transact(market.cancel, job_id, sender=account).decode_logs(market.JobCancelled)[0].refund


def provider_share(settlement: Settlement) -> int:
    return settlement.price - settlement.fee


def signed_permit(deployed: Deployed, account, spender: str, value: int) -> permit.PermitSignature:
    """`account`'s EIP-2612 permit for `spender` to take `value` AKRE, valid PERMIT_VALIDITY_S."""
    token = deployed.token
    deadline = int(token.chain_manager.pending_timestamp) + PERMIT_VALIDITY_S
    typed = permit.typed_data(token=token.address, chain_id=token.chain_manager.chain_id, owner=account.address,
                              spender=spender, value=value, nonce=token.nonces(account.address), deadline=deadline)
    return permit.split(sign_typed(account, typed), deadline)


def sign_typed(account, typed: dict) -> bytes:
    """A 65-byte EIP-712 signature by an Ape account (test, keyfile or hardware)."""
    signed = account.sign_message(eip712.signable(typed))
    if signed is None:
        raise RequesterError(f"the account {account.address} declined to sign")
    return signed.encode_rsv() if hasattr(signed, "encode_rsv") else bytes(signed.r) + bytes(signed.s) + bytes([signed.v])


def send(deployed: Deployed, account, token: str, amount: int, to: str) -> str:
    """Sends `amount` base units of "akre", "rec" or "native" (the chain's own token, wei) to
    `to`, after checking the balance; what was sent, in words."""
    from degen.pool import amount_text

    contract = {"akre": deployed.token, "rec": deployed.rec}.get(token)
    held = account.balance if contract is None else contract.balanceOf(account.address)
    if held < amount:
        raise RequesterError(f"{account.address} holds {amount_text(held, token)}, less than the {amount_text(amount, token)} to send")
    if contract is None:
        account.transfer(to, amount)
    else:
        transact(contract.transfer, to, amount, sender=account)
    return amount_text(amount, token)


def transact(function, *args, sender) -> Any:
    """Sends a contract call through Ape; a revert becomes a RequesterError with its reason."""
    from ape.exceptions import ContractLogicError

    try:
        return function(*args, sender=sender)
    except ContractLogicError as exc:
        raise RequesterError(f"{function.contract.contract_type.name} refused: {exc.message or exc}") from None


def _detail(response) -> str:
    try:
        return str(response.json().get("detail", ""))[:200]
    except ValueError:
        return response.text[:200]


def check_writable(path: Path) -> Path:
    """`path`, if an image can be saved there; checked before anything is paid."""
    if path.is_dir():
        raise RequesterError(f"cannot save the image to {path}: it is a folder")
    nearest = next(folder for folder in path.absolute().parents if folder.exists())
    if not nearest.is_dir():
        raise RequesterError(f"cannot save the image to {path}: {nearest} is a file, not a folder")
    if not os.access(nearest, os.W_OK):
        raise RequesterError(f"cannot save the image to {path}: {nearest} is not writable")
    return path


@contextmanager
def reserved_output(path: Path | None):
    """While a job runs: the image's file (and its folders) exists before anything is paid, so
    a place it cannot be written is refused then, not after the job is paid; a file created here
    is removed again if no image came. Without a path (job-<id>.png, named once posted) the
    working folder is checked instead."""
    if path is None:
        check_writable(Path("job-1.png"))
        yield
        return
    created = _create(path)
    try:
        yield
    finally:
        if created and path.exists() and path.stat().st_size == 0:
            path.unlink()


def _create(path: Path) -> bool:
    """Creates `path` empty (True), or checks an existing one is writable (False)."""
    check_writable(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            path.open("xb").close()
            return True
        except FileExistsError:
            path.open("ab").close()  # writable; left as it is until the image replaces it
            return False
    except OSError as exc:
        raise RequesterError(f"cannot save the image to {path}: {exc.strerror or exc}") from None


def save(png: bytes, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png)
    return path

