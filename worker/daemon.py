"""The DER worker: turns a GPU next to a solar battery into a market participant.

Three threads share one SQLite journal:
- the chain loop, at each new block (its head asked every `head_poll_s`), as soon as a result
  is ready, and at least every `poll_interval_s`:
  1. follow JobCreated (backfill, confirmations, reorgs) and record new jobs as SEEN;
  2. decide each SEEN job: valid params, one of our offers, the policy and, for green jobs,
     the site's energy (a green job waits while the energy is short, until its deadline slack
     runs out); simulate `accept`, accept → ACCEPTED, queue it;
  3. deliver each GENERATED job in order: take its meter reading, sign the EnergyReceipt with
     the meter key, simulate, send → DELIVERED;
  4. settle each DELIVERED job once its challenge window has passed → SETTLED;
  5. read the site (SunSpec) every `read_interval_s`;
  6. redeem the channels' vouchers that `[channels]` says are due.
- the compute loop: take a batch of same-shape jobs, generate, meter, store the PNGs,
  split the energy → GENERATED.
- the result server (FastAPI under uvicorn), which also takes channel orders: the channel
  desk (`worker.channels`) checks each one, the compute loop generates it at once (never in a
  batch with market jobs) and the desk records it before the image is answered; the chain
  loop redeems the channels' vouchers (6.).

Every transaction is simulated first, and when the market refuses one the worker reads the
job and acts on what the chain says; so after `kill -9` a restart resumes each job where the
journal left it: accepted jobs are finished once, no job is accepted twice."""

from __future__ import annotations

import logging
import math
import os
import signal
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import NamedTuple

from web3.exceptions import Web3RPCError

from degen import channels, receipts
from degen.chain.channels import ChannelsClient
from degen.chain.follower import Follower
from degen.committee import CommitteeView
from degen.chain.market import MarketClient, TxRejected
from degen.chain.recs import NoQuote, Purchase, RecMarketClient
from degen.errors import InvalidInput
from degen.http import ServerThread
from degen.inference.pipelines import BatchQueue, Pipelines, Task
from degen.models import EnergyReceipt, Job, JobOrder, JobState, Offer, Speed, model_id
from degen.pool import amount_text
from degen.receipts import energy_bound
from worker.channel_book import ChannelBook
from worker.channels import ChannelDesk, Generated, OrderRefused
from worker.config import WorkerConfig, base_units
from worker.journal import Entry, JobKey, Journal, Step
from worker.meter import Meter, measure, split_energy, window_end
from worker.metrics import WorkerMetrics
from worker.policy import RecPlan, SiteState, choose, plan_rec_purchase, premium_pct
from worker.register import MeterRegister
from worker.reporter import MissingPoints, TelemetryReporter, oracle_problem
from worker.results import ResultStore
from worker.server import Result, create_app
from worker.site_agent import SiteAgent
from worker.sunspec.reader import SunSpecError, describe

log = logging.getLogger("worker")

MAX_CLOCK_WAIT_S = 5.0  # longest wait for the chain's clock to pass a receipt's end
ARBITER_CACHE_S = 60.0  # how long the market's answer to "is this the arbiter?" is reused
KILL_AT_ENV = "DEGEN_WORKER_KILL_AT"  # crash tests: SIGKILL the worker at this point


def _kill_point(name: str) -> None:
    """Where the crash tests kill the worker (`DEGEN_WORKER_KILL_AT=<name>`): the points around
    every journal write and every transaction. A no-op unless that variable names the point."""
    if os.environ.get(KILL_AT_ENV) == name:
        logging.getLogger("worker").critical("killed at %s", name)
        os.kill(os.getpid(), signal.SIGKILL)


class WorkerSetupError(InvalidInput):
    """The worker's account, offers, site or meter key do not fit together."""


ORDER_TIMEOUT_S = 600.0  # the longest a channel order waits for the GPU


@dataclass(frozen=True)
class Queued:
    """A market job waiting for the GPU."""

    key: JobKey
    task: Task
    accepted_at: int

    @property
    def batch_key(self) -> tuple:
        return ("market", *self.task.shape)


@dataclass(frozen=True)
class OrderQueued:
    """A channel order waiting for the GPU; its image is handed to the waiting desk. Never
    batched with market jobs: an arbiter rebuilds a market job's batch from the chain."""

    task: Task
    made: Future = field(default_factory=Future)
    accepted_at: int = 0

    @property
    def batch_key(self) -> tuple:
        return ("channel", *self.task.shape)


@dataclass(frozen=True)
class Made:
    """One job's image out of a pipeline call, stored, with its share of the metered energy."""

    png: bytes
    sha256: bytes
    cid: str
    energy_mwh: int
    started_at: int
    finished_at: int
    metadata: dict  # meter, estimated, batch, setup: how it was computed


class Worker:
    def __init__(self, config: WorkerConfig, client: MarketClient, recs: RecMarketClient, pipelines: Pipelines,
                 meter: Meter, site_agent: SiteAgent | None, *, start_block: int, progress=None,
                 channels_client: ChannelsClient | None = None):
        self.start_block = start_block  # where a first start backfills from (the deployment's block)
        self.config, self.client, self.recs, self.pipelines = config, client, recs, pipelines
        self.new_blocks = client.new_blocks(config.chain.head_poll_s)
        self.meter, self.site_agent = meter, site_agent
        self.channels_client = channels_client
        self.desk: ChannelDesk | None = None  # set up when [channels] is enabled
        self._head = 0
        self.rec_buying = None if config.green is None else config.green.rules()
        self.progress = progress  # a rich Progress, or None
        self.metrics = WorkerMetrics()
        self.policy = config.policy.policy()
        self.meter_key = config.meter_account()
        self.queue = BatchQueue(config.compute.batch_window_s)
        self.max_gpu_watts = 0  # the site's registered bound, read at setup
        self._stop = threading.Event()
        self._result_ready = threading.Event()
        self._site: SiteState | None = None
        self._waiting: dict[JobKey, str] = {}  # green jobs held back (for energy, for RECs), and why
        self._said: dict[JobKey, str] = {}  # what the log last said of each
        self._arbiters: dict[str, tuple[bool, float]] = {}  # address -> (arbiter?, when asked)
        self._site_read_at = 0.0
        self._site_said: dict[str, object] = {}  # what the log last said of the site, by topic (said again when it changes)
        self.registered_battery_wh = 0  # the site's battery as the registry has it, read at setup
        self._running: _Running | None = None  # the pipeline call under way (compute thread)
        self.speed: Speed | None = None  # measured on the last pipeline calls, for /health
        self._clock_offset = 0.0
        self._threads: list[threading.Thread] = []
        self._server: ServerThread | None = None
        self.journal: Journal | None = None
        self.register: MeterRegister | None = None
        self.server_port: int | None = None

    # ---- lifecycle -----------------------------------------------------------------------

    def setup(self) -> None:
        """Opens the state, checks the account, offers, site and meter key against the chain,
        starts the result server and the compute thread, and re-queues accepted jobs."""
        data = self.config.data_dir
        self.journal = Journal(data / "journal.sqlite")
        self.register = MeterRegister(data / "meter.sqlite", self.config.site.site_id)
        self.store = ResultStore(data)
        self.offers = self._check_offers()
        self._check_site()
        if self.rec_buying is not None:
            self._prepare_router(self.rec_buying.max_akre_per_job)
        self.register.catch_up(self.client.meter_register(self.config.site.site_id))
        self.follower = Follower(
            self.client, self.journal, confirmations=self.config.chain.confirmations,
            start_block=self.config.chain.start_block if self.config.chain.start_block is not None else self.start_block,
            max_range=self.config.chain.max_block_range,
        )
        self._sync_clock()
        self._open_desk()
        app = create_app(
            self._result_of, self.store.get, chain_id=self.client.chain_id, market=self.client.address,
            health=self.health, metrics_registry=self.metrics.registry, receipts=self._receipt_of,
            is_arbiter=self._is_arbiter, on_error=lambda status: self.metrics.http_errors.labels(status=str(status)).inc(),
            progress=self._progress_of, allowed_origins=self.config.server.allowed_origins, desk=self.desk,
        )
        self._server = ServerThread(app, self.config.server.host, self.config.server.port)
        self.server_port = self._server.start()
        log.info("result server listening", extra={"url": f"http://{self.config.server.host}:{self.server_port}"})
        self._publish_endpoint()
        self._start_compute()
        self._start_reporter()
        for entry in self.journal.at_step(self.client.chain_id, self.client.address, Step.ACCEPTED):
            self._requeue(entry)
        log.info(
            "worker ready",
            extra={"provider": self.client.account.address, "offers": sorted(self.offers), "site": self.config.site.site_id,
                   "meter": self.meter.name, "estimated_energy": self.meter.estimated, "device": self.pipelines.device,
                   "from_block": self.follower.last_processed + 1},
        )

    def run_forever(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
            except TxRejected as exc:  # a refused transaction is logged where it happens; keep going
                log.warning("transaction refused", extra={"reason": exc.reason})
            except (ConnectionError, TimeoutError, OSError) as exc:
                log.error("chain unreachable, retrying", extra={"error": str(exc)})
            except Web3RPCError as exc:  # the node refused a request; the next round retries it
                log.error("node error, retrying", extra={"error": str(exc)})
            self.new_blocks.wait(self.config.chain.poll_interval_s, wake=self._result_ready)
            self._result_ready.clear()

    def request_stop(self) -> None:
        """Asks the loops to finish their current step and return (safe from a signal handler)."""
        self._stop.set()
        self._result_ready.set()

    def stop(self) -> None:
        self.request_stop()
        for thread in self._threads:
            thread.join(timeout=30)
        if self._server is not None:
            self._server.stop()
        for state in (self.journal, self.register, self.desk and self.desk.book):
            if state is not None:
                state.close()

    def step(self) -> None:
        """One round of the chain loop (see the module docstring)."""
        self._sync_clock()
        self._read_site()
        self._follow()
        chain, market = self.client.chain_id, self.client.address
        with self.queue.gathering():  # the jobs this round accepts may share a batch
            for entry in self.journal.at_step(chain, market, Step.SEEN):
                self._decide(entry)
        for entry in self.journal.at_step(chain, market, Step.GENERATED):
            self._deliver(entry)
        for entry in self.journal.at_step(chain, market, Step.DELIVERED):
            self._settle(entry)
        if self.desk is not None:
            self.desk.redeem_due(self._head)

    # ---- chain loop ----------------------------------------------------------------------

    def _follow(self) -> None:
        while True:
            poll = self.follower.poll()
            self._head = poll.head
            self.metrics.head.set(poll.head)
            self.metrics.processed_block.set(poll.processed_to)
            if poll.forgotten:
                self.metrics.reorgs.inc()
            for job in poll.new:
                self.metrics.jobs.labels(step="seen").inc()
                log.info("job seen", extra={"job_id": job.job_id, "block": job.block_number, "offer_id": job.offer_id, "green": job.green})
                _kill_point("seen")
            if poll.processed_to >= poll.head - self.config.chain.confirmations:
                return

    def _decide(self, entry: Entry) -> None:
        key, data = entry.key, entry.data
        offers = self._candidate_offers(data["offer_id"], bytes.fromhex(data["model_id"]))
        if isinstance(offers, str):
            return self._skip(key, offers)
        try:
            task = self._task(key.job_id, data, offers[0].model_id)
        except InvalidInput as exc:
            return self._skip(key, str(exc))
        if not self.pipelines.knows(task.model_id):
            return self._skip(key, f"model 0x{task.model_id.hex()[:12]}… is not configured on this worker")
        offer, decision = self._first_accepting(offers, task.params, max_price=int(data["max_price"]), green=data["green"],
                                                deadline=data["deadline"])
        if not decision.accept and decision.for_now:
            return self._wait(key, "job waits for green energy", decision.reason)
        self._stop_waiting(key)
        if not decision.accept:
            return self._skip(key, decision.reason)
        try:
            receipt = self.client.send("accept", key.job_id, offer.offer_id)
        except TxRejected as exc:
            on_chain = self.client.job(key.job_id)
            if on_chain.state != JobState.ACCEPTED or on_chain.offer_id not in self.offers:
                return self._skip(key, self._not_ours(on_chain, exc.reason))
            accepted_at = on_chain.state_since  # accepted before a restart; the journal had not heard
            log.info("job was accepted before a restart", extra={"job_id": key.job_id, "offer_id": on_chain.offer_id})
        else:
            _kill_point("accept-sent")
            accepted_at = self.client.block_timestamp(receipt["blockNumber"])
            log.info("job accepted", extra={"job_id": key.job_id, "offer_id": offer.offer_id, "tx": receipt["transactionHash"].to_0x_hex(), "why": decision.reason})
        self.journal.advance(key, Step.ACCEPTED, offer_id=offer.offer_id, accepted_at=accepted_at, model=task.model_id.hex())
        _kill_point("accepted")
        self.metrics.jobs.labels(step="accepted").inc()
        self._queue(Queued(key, task, accepted_at))

    def _first_accepting(self, offers: list[Offer], params, *, max_price: int, green: bool, deadline: int | None):
        """The first of `offers` the policy lets take the job, with its decision; else the last
        offer tried and why it refused."""
        for offer in offers:
            decision = choose(self.policy, offer, params, max_price=max_price, green=green, deadline=deadline,
                              now=self.chain_now(), site=self._site)
            if decision.accept:
                break
        return offer, decision

    @staticmethod
    def _not_ours(on_chain: Job, refusal: str) -> str:
        """Why a job the market would not let us accept is gone, as the chain tells it."""
        if on_chain.state == JobState.CANCELLED:
            return "its requester cancelled it before it was accepted"
        if on_chain.state == JobState.EXPIRED:
            return "its deadline passed before it was accepted"
        if on_chain.state != JobState.OPEN:
            return f"another provider took it first (offer {on_chain.offer_id}); it is {on_chain.state.name.lower()}"
        return f"the market refused the accept: {refusal}"

    def _candidate_offers(self, offer_id: int, model_id: bytes) -> list[Offer] | str:
        if offer_id:
            return [self.offers[offer_id]] if offer_id in self.offers else f"directed at offer {offer_id}, not one of ours"
        matching = [offer for offer in self.offers.values() if offer.model_id == model_id]
        return matching or f"no offer of ours serves model 0x{model_id.hex()[:12]}…"

    def _skip(self, key: JobKey, reason: str) -> None:
        self.journal.skip(key, reason)
        self.metrics.skipped.inc()
        log.info("job skipped", extra={"job_id": key.job_id, "reason": reason})

    def _fail(self, key: JobKey, reason: str) -> None:
        self.journal.fail(key, reason)
        self.metrics.failed.inc()
        log.error("job failed", extra={"job_id": key.job_id, "reason": reason})

    def _deliver(self, entry: Entry) -> None:
        """Delivers one generated job: takes its meter reading (the same one again after a
        restart), signs the receipt, simulates and sends. A green job short of RECs goes
        through the GreenRouter, which buys the shortfall inside the delivery, when the
        `[green]` caps allow; else it waits."""
        key, data = entry.key, entry.data
        energy = self._claimed_energy(key.job_id, data)
        purchase = None
        if data["green"] and (shortfall := energy - self.recs.rec_balance()) > 0:
            purchase = self._plan_purchase(entry, shortfall)
            if purchase is None:
                return
        receipt, signature = self._signed_receipt(key.job_id, str(key), data, energy)
        _kill_point("metered")
        self._wait_for_chain_time(receipt.finished_at)
        bought = None
        try:
            if purchase is None:
                tx = self.client.send("deliver", key.job_id, receipt.as_tuple(), signature)
            else:
                tx, bought = self.recs.deliver(key.job_id, receipt.as_tuple(), signature, purchase.max_akre, data["deadline"])
        except TxRejected as exc:
            self._refused_delivery(entry, exc)
            return
        _kill_point("deliver-sent")
        self._stop_waiting(key)
        delivered_at = self.client.block_timestamp(tx["blockNumber"])
        record = self._delivery_record(receipt, signature, tx) | self._purchase_record(key, bought)
        self.journal.advance(key, Step.DELIVERED, delivered_at=delivered_at, **record)
        _kill_point("delivered")
        self.metrics.jobs.labels(step="delivered").inc()
        self.metrics.energy_mwh.inc(receipt.energy_mwh)
        log.info("job delivered", extra={
            "job_id": key.job_id, "sha256": data["sha256"][:16], "cid": data["cid"], "energy_mwh": receipt.energy_mwh,
            "estimated": data["estimated"], "meter": f"{receipt.meter_start}..{receipt.meter_end}",
        } | self._purchase_log(record.get("purchase")))

    def _plan_purchase(self, entry: Entry, shortfall: int) -> RecPlan | None:
        """The purchase a green delivery short of `shortfall` mWh of RECs makes through the
        router, or None when it waits (why: logged once, and in /health) or is given up.
        The job's state on chain decides first: after a restart it may be delivered already
        (the router buys and delivers in one transaction, so a purchase is never repeated)."""
        key = entry.key
        on_chain = self.client.job(key.job_id)
        if on_chain.state != JobState.ACCEPTED:
            self._reconcile_delivery(entry, on_chain, "the job is no longer accepted")
            return None
        rules, twap, quote = self.rec_buying, None, None
        if rules is not None:
            twap = self.recs.twap(rules.twap_window_s)
            try:
                quote = self.recs.quote(shortfall)
            except NoQuote:
                quote = None
        plan = plan_rec_purchase(rules, shortfall_mwh=shortfall, seconds_left=on_chain.deadline - self.chain_now(),
                                 twap=twap, quote=quote, akre_balance=self.recs.akre_balance())
        if plan.action != "buy":
            self.register.discard(str(key))  # a reading taken before a restart never reached the chain
            if plan.action == "give_up":
                self._stop_waiting(key)
                self._fail(key, f"not delivered: {plan.reason}")
            else:
                self._wait(key, "delivery waits for RECs", plan.reason, cause=plan.cause)
            return None
        self._prepare_router(plan.max_akre)
        self.journal.note(key, purchase={"from_block": self.client.head(), "twap": twap, "max_akre": plan.max_akre})
        return plan

    def _purchase_record(self, key: JobKey, bought: Purchase | None) -> dict:
        """What the journal keeps of a router purchase: the RECs and AKRE (as the chain logged
        them), the TWAP and the cap it was made under (noted before it was sent)."""
        intent = self.journal.get(key).data.get("purchase")
        if intent is None:
            return {}
        if bought is None:  # noted before a restart, delivered without buying since (RECs had come)
            return {"purchase": None}
        self.metrics.recs_bought_mwh.inc(bought.rec_mwh)
        self.metrics.recs_paid_akre.inc(bought.akre / 10**18)
        premium = premium_pct(bought.akre, bought.rec_mwh, intent["twap"])
        self.metrics.rec_premium_pct.set(premium)
        return {"purchase": intent | {"rec_mwh": bought.rec_mwh, "akre": bought.akre, "premium_pct": round(premium, 4)}}

    @staticmethod
    def _purchase_log(purchase: dict | None) -> dict:
        if purchase is None:
            return {}
        return {"bought_mwh": purchase["rec_mwh"], "paid": amount_text(purchase["akre"], "akre"),
                "twap_per_rec": amount_text(purchase["twap"], "akre"), "premium_pct": f"{purchase['premium_pct']:+.2f}",
                "cap": amount_text(purchase["max_akre"], "akre"), "via": "GreenRouter"}

    def _wait(self, key: JobKey, message: str, reason: str, cause: str | None = None) -> None:
        """Holds a job back for now (the reason shows in /health); says why once, and again
        when the reason (or its `cause`, for reasons whose figures move every block) changes."""
        said = self._said.get(key)
        self._waiting[key], self._said[key] = reason, cause or reason
        if said != self._said[key]:
            log.info(message, extra={"job_id": key.job_id, "reason": reason})

    def _stop_waiting(self, key: JobKey) -> None:
        self._waiting.pop(key, None)
        self._said.pop(key, None)

    def _claimed_energy(self, job_id: int, data: dict) -> int:
        """The job's metered energy, cut to what the site's registered GPU power could draw
        over its window (the contract refuses more)."""
        window = data["finished_at"] - data["started_at"]
        bound = energy_bound(self.max_gpu_watts, window)
        energy = data["energy_mwh"]
        if energy > bound:
            log.warning("metered energy above the site's physical bound; claiming the bound",
                        extra={"job_id": job_id, "metered_mwh": energy, "bound_mwh": bound})
            return bound
        return energy

    def _signed_receipt(self, job_id: int, reading_key: str, data: dict, energy: int) -> tuple[EnergyReceipt, bytes]:
        """The job's EnergyReceipt on its meter reading of `energy` (taken now, or the one
        taken before a restart, kept under `reading_key`) and the meter key's signature over it."""
        reading = self.register.read(reading_key, energy)
        receipt = EnergyReceipt(
            job_id=job_id, result_hash=bytes.fromhex(data["sha256"]), started_at=data["started_at"],
            finished_at=data["finished_at"], energy_mwh=reading.energy_mwh,
            meter_start=reading.meter_start, meter_end=reading.meter_end,
        )
        return receipt, receipts.sign(receipt, self.meter_key, self.client.chain_id, self.client.address)

    @staticmethod
    def _delivery_record(receipt: EnergyReceipt, signature: bytes, tx: dict | None) -> dict:
        """What the journal keeps of a delivery (served at /receipts/{job_id})."""
        fields = receipt.model_dump() | {"result_hash": "0x" + receipt.result_hash.hex()}
        return {"receipt": fields, "signature": "0x" + signature.hex(),
                "deliver_tx": None if tx is None else tx["transactionHash"].to_0x_hex()}

    def _refused_delivery(self, entry: Entry, refusal: TxRejected) -> None:
        """Why the market refused a delivery decides what happens to the job."""
        self._reconcile_delivery(entry, self.client.job(entry.key.job_id), refusal.reason)

    def _reconcile_delivery(self, entry: Entry, on_chain: Job, refusal: str) -> None:
        """Acts on what the chain says of a job whose delivery did not go out now. Delivered
        already (before a restart): recorded with the reading it was sent with and any
        purchase the router logged for it. Still accepted before its deadline: retried next
        round; its reading is dropped, as a refused delivery was never mined: later jobs
        deliver meanwhile and this one takes a fresh reading above theirs. Else failed."""
        key = entry.key
        if on_chain.state & (JobState.DELIVERED | JobState.SETTLED | JobState.DISPUTED):
            receipt, signature = self._signed_receipt(key.job_id, str(key), entry.data, self._claimed_energy(key.job_id, entry.data))
            intent = self.journal.get(key).data.get("purchase")
            bought = None if intent is None else self.recs.purchase_of(key.job_id, intent["from_block"])
            record = self._delivery_record(receipt, signature, None) | self._purchase_record(key, bought)
            self.journal.advance(key, Step.DELIVERED, delivered_at=on_chain.state_since, **record)
            self._stop_waiting(key)
            log.info("job was delivered before a restart", extra={"job_id": key.job_id} | self._purchase_log(record.get("purchase")))
            return
        self.register.discard(str(key))
        if on_chain.state == JobState.ACCEPTED and self.chain_now() <= on_chain.deadline:
            log.warning("delivery refused, will retry", extra={"job_id": key.job_id, "reason": refusal})
            return
        self._stop_waiting(key)
        self._fail(key, f"not delivered: {refusal} (the job is {on_chain.state.name} on chain)")

    def _settle(self, entry: Entry) -> None:
        key, data = entry.key, entry.data
        if self.chain_now() <= data["delivered_at"] + data["challenge_window"]:
            return  # only the requester can settle inside the window
        on_chain = self.client.job(key.job_id)
        if on_chain.state == JobState.DELIVERED:
            try:
                self.client.send("settle", key.job_id)
            except TxRejected as exc:
                log.warning("settle refused", extra={"job_id": key.job_id, "reason": exc.reason})
                return
        elif on_chain.state == JobState.DISPUTED:
            return  # the arbiter decides; checked again next round
        elif on_chain.state != JobState.SETTLED:
            self._fail(key, f"the job is {on_chain.state.name} on chain after delivery")
            return
        self.journal.advance(key, Step.SETTLED)
        self.metrics.jobs.labels(step="settled").inc()
        log.info("job settled", extra={"job_id": key.job_id})

    def _read_site(self) -> None:
        if self.site_agent is None or time.monotonic() - self._site_read_at < self.config.site.read_interval_s:
            return
        self._site_read_at = time.monotonic()
        try:
            self._site = self.site_agent.read()
        except SunSpecError as exc:
            self._site = None
            self.metrics.site_errors.inc()
            log.warning("site unreadable; green jobs wait for a reading", extra={"error": str(exc)})
            return
        self.metrics.pv_watts.set(_gauge(self._site.pv_watts))
        self.metrics.battery_soc.set(_gauge(self._site.battery_soc_pct))
        layout = self._site_layout()
        self._say_once("layout", layout, logging.WARNING if "registered" in layout[1] else logging.INFO)
        self._say_once("missing", self._site.missing and ("the site does not report some points; they count for nothing", {
            "missing": ", ".join(self._site.missing), "inverter": self._site.inverter_state, "battery": self._site.battery_state}))
        self._say_once("notes", self._site.notes and ("how the site's readings are combined", {"notes": "; ".join(self._site.notes)}),
                       logging.INFO)
        check = self.site_agent.meter_check.last if self.site_agent.meter_check is not None else None
        self._say_once("meter", check is not None and not check["agree"] and (
            "the production meter and the inverters disagree", {k: check[k] for k in ("meter_wh", "inverters_wh", "difference_pct",
                                                                                   "tolerance_pct")}))

    def _site_layout(self) -> tuple[str, dict]:
        """What the site agent found, and where it differs from the site's registration."""
        fields = {"site": describe(self.site_agent.layout)}
        if self.site_agent.passed_over:
            fields["passed_over"] = "; ".join(self.site_agent.passed_over)
        if self._site.has_battery != (self.registered_battery_wh > 0):
            fields["registered"] = (f"a {self.registered_battery_wh:,} Wh battery" if self.registered_battery_wh
                                    else "no battery") + ": the registry and the device disagree"
        return "site found", fields

    def _say_once(self, topic: str, said, level: int = logging.WARNING) -> None:
        """Logs `said` ((message, fields), or nothing) at `level` when it differs from what was
        last said on `topic`: a change of the site's layout, of its missing points, …"""
        if said == self._site_said.get(topic):
            return
        self._site_said[topic] = said
        if said:
            message, fields = said
            log.log(level, message, extra=fields)

    # ---- channel orders (result server threads) -----------------------------------------

    def _open_desk(self) -> None:
        """Opens the channel book and desk when `[channels]` is enabled and the deployment
        has JobChannels."""
        if not self.config.channels.enabled or self.channels_client is None:
            return
        book = ChannelBook(self.config.data_dir / "channels.sqlite", self.client.chain_id, self.channels_client.address)
        self.desk = ChannelDesk(
            book, self.channels_client, self.config.channels.rules(), site_id=self.config.site.site_id,
            market=self.client.address, decide=self._order_offer, generate=self._generate_order,
            chain_now=self.chain_now, on_point=_kill_point,
        )
        self.desk.start(self.client.head())

    def _order_offer(self, order: JobOrder) -> Offer:
        """The cheapest offer of ours that serves an order (an order names no offer), by the
        rules the market jobs are taken by."""
        offers = self._candidate_offers(0, order.model_id)
        if isinstance(offers, str):
            raise OrderRefused(409, offers)
        offers.sort(key=lambda offer: (offer.base_price, offer.price_per_kwh, offer.offer_id))
        if not self.pipelines.knows(order.model_id):
            raise OrderRefused(409, f"model 0x{order.model_id.hex()[:12]}… is not configured on this worker")
        offer, decision = self._first_accepting(offers, order.params, max_price=order.max_price, green=order.green, deadline=None)
        if not decision.accept:
            raise OrderRefused(409, decision.reason + ("; retry later" if decision.for_now else ""))
        return offer

    def _generate_order(self, order: JobOrder, prompt: str) -> Generated:
        """Generates an order at once through the compute queue, meters it and has the meter
        key sign its receipt (the order's digest is its job id)."""
        job_id = channels.order_job_id(order, self.client.chain_id, self.channels_client.address)
        try:
            task = Task.of(job_id, order.model_id, prompt, order.params)
        except InvalidInput as exc:
            raise OrderRefused(400, str(exc)) from None
        queued = OrderQueued(task)
        self._queue(queued)
        try:
            made = queued.made.result(timeout=ORDER_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - the pipeline's failure, said to the requester; nothing is owed
            raise OrderRefused(409, f"the site could not generate the order ({type(exc).__name__}); nothing is owed") from None
        data = {"sha256": made.sha256.hex(), "started_at": made.started_at, "finished_at": made.finished_at,
                "energy_mwh": made.energy_mwh}
        receipt, signature = self._signed_receipt(job_id, f"channel:{job_id:064x}", data, self._claimed_energy(job_id, data))
        return Generated(made.png, made.sha256, made.cid, receipt, signature, made.metadata)

    # ---- compute loop --------------------------------------------------------------------

    @staticmethod
    def _task(job_id: int, data: dict, model_id: bytes) -> Task:
        """The generation a job asks for; a directed job runs its offer's model."""
        return Task.of(job_id, model_id, data["prompt"], data["params"])

    def _requeue(self, entry: Entry) -> None:
        """Queues a job the journal holds as ACCEPTED (after a restart)."""
        data = entry.data
        task = self._task(entry.key.job_id, data, bytes.fromhex(data["model"]))
        self._queue(Queued(entry.key, task, data["accepted_at"]))

    def _queue(self, item: Queued) -> None:
        self.queue.put(item)
        self.metrics.queue.set(len(self.queue))

    def _start_compute(self) -> None:
        """Starts the compute thread and waits until it has loaded and warmed every model, so a
        bad model path stops the worker at start rather than failing jobs. All torch work stays
        on that one thread: a second thread calling torch (even once, for a warm-up) leaves
        OpenMP teams spinning against each other and halves CPU throughput."""
        ready, failure = threading.Event(), []

        def run() -> None:
            try:
                for model_id in self.config.model_sources():
                    self.pipelines.warm_up(model_id)
            except Exception as exc:  # noqa: BLE001 - reported to setup, which raises it
                failure.append(exc)
                return
            finally:
                ready.set()
            self._compute_loop()

        thread = threading.Thread(target=run, name="compute", daemon=True)
        self._threads.append(thread)
        thread.start()
        ready.wait()
        if failure:
            raise WorkerSetupError(f"cannot load the configured models: {failure[0]}") from failure[0]

    def _start_reporter(self) -> None:
        """Starts the thread that posts the site's signed meter samples to the oracle (saying
        at once when the oracle does not answer: the samples wait in the outbox meanwhile)."""
        telemetry = self.config.telemetry
        if telemetry is None or self.site_agent is None:
            return
        committee = CommitteeView(self.client.committee, self.client.retry, ttl_s=60.0) if telemetry.committee else None

        def destinations() -> list[str]:
            members = [] if committee is None else [url for url in committee.state().endpoints.values() if url]
            return members + ([telemetry.oracle_url] if telemetry.oracle_url else [])

        self.reporter = TelemetryReporter(
            destinations, self.config.data_dir / "telemetry.sqlite", site_id=self.config.site.site_id,
            meter_key=self.meter_key, chain_id=self.client.chain_id, registry=self.client.registry.address,
        )
        if not self.reporter.destinations():
            log.warning("no oracle to report to: the committee's members publish no endpoint and [telemetry] names no "
                        "oracle_url; samples are not kept")
        for url in self.reporter.destinations():
            problem = oracle_problem(url)
            if problem:
                log.warning("the oracle does not answer; meter samples wait in the outbox until it does",
                            extra={"url": url, "error": problem})
        thread = threading.Thread(target=self._report_loop, name="telemetry", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _report_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.reporter.record(self.site_agent.read(), int(time.time()))
            except (SunSpecError, MissingPoints) as exc:
                log.warning("no meter sample this round", extra={"error": str(exc)})
            self.reporter.flush()
            self._stop.wait(self.config.telemetry.interval_s)
        self.reporter.close()

    def _compute_loop(self) -> None:
        while not self._stop.is_set():
            batch = self.queue.next_batch(self.config.compute.max_batch, timeout_s=0.2)
            self.metrics.queue.set(len(self.queue))
            if batch:
                self._generate(batch)

    def _generate(self, batch: list[Queued]) -> None:
        tasks = [item.task for item in batch]
        job_ids = [item.task.job_id for item in batch]
        try:
            self.pipelines.get(tasks[0].model_id)  # loaded before the meter starts
            started = time.monotonic()
            with measure(self.meter, wall_clock=self.chain_clock) as used, self._progress(job_ids, tasks[0].params.steps) as on_step:
                pngs = self.pipelines.generate(tasks, on_step=on_step)
        except Exception as exc:  # noqa: BLE001 - a failed pipeline call fails its jobs, never the worker
            self._running = None
            for item in batch:
                if isinstance(item, OrderQueued):
                    item.made.set_exception(exc)
                else:
                    self._fail(item.key, f"generation failed: {exc!r}")
            return
        seconds = time.monotonic() - started
        self._running = None
        self.speed = Speed.measured(seconds, sum(task.work for task in tasks), used.energy_mwh, self.speed)
        self.metrics.generation_seconds.observe(seconds)
        self.metrics.batch_size.observe(len(batch))
        shares = split_energy(used.energy_mwh, [task.work for task in tasks])
        setup = self.pipelines.setup().model_dump()
        for item, png, share in zip(batch, pngs, shares):
            stored = self.store.put(png)
            started_at = max(used.started_at, item.accepted_at)
            made = Made(png, stored.sha256, stored.cid, share, started_at, window_end(started_at, used.ended, share, self.max_gpu_watts),
                        # how it was computed: an arbiter rebuilds this batch on this setup
                        {"estimated": used.estimated, "meter": self.meter.name, "batch": job_ids, "setup": setup})
            if isinstance(item, OrderQueued):
                item.made.set_result(made)
                continue
            self.journal.advance(
                item.key, Step.GENERATED, sha256=made.sha256.hex(), cid=made.cid, energy_mwh=share,
                started_at=made.started_at, finished_at=made.finished_at, **made.metadata,
            )
            self.metrics.jobs.labels(step="generated").inc()
            _kill_point("generated")
        log.info("generated", extra={"jobs": job_ids, "energy_mwh": used.energy_mwh, "estimated": used.estimated,
                                     "seconds": round(time.monotonic() - started, 2)})
        self._result_ready.set()

    def _progress(self, job_ids: list[int], steps: int):
        self._running = _Running(tuple(job_ids), 0, steps, time.monotonic())

        def on_step(done: int, total: int) -> None:
            self._running = self._running._replace(step=done, steps=total)

        return _StepProgress(self.metrics, self.progress, f"jobs {', '.join(map(str, job_ids))}", steps, on_step)

    def _progress_of(self, job_id: int) -> dict | None:
        """/progress/{job_id}: the journal's step, the denoising step while it generates, and
        why it waits where it does (a green delivery short of RECs); a channel job is
        generating or served."""
        running = self._running
        if running is not None and job_id in running.job_ids:
            return {"job_id": job_id, "state": "generating", "step": running.step, "steps": running.steps,
                    "eta_s": running.seconds_left()}
        entry = self._entry(job_id)
        if entry is None:
            return {"job_id": job_id, "state": "served"} if self._channel_job(job_id) else None
        if entry.step == Step.SEEN:
            return None
        state = "queued" if entry.step == Step.ACCEPTED else entry.step.name.lower()
        waiting = self._waiting.get(entry.key)
        return ({"job_id": job_id, "state": state} | ({"reason": entry.reason} if entry.reason else {})
                | ({"waiting": waiting} if waiting else {}))

    # ---- helpers -------------------------------------------------------------------------

    def chain_clock(self) -> float:
        """The chain's clock, estimated from the wall clock and the last offset measured."""
        return time.time() + self._clock_offset

    def chain_now(self) -> int:
        return int(self.chain_clock())

    def _sync_clock(self) -> None:
        """The chain's clock against the wall clock, in whole seconds: a block's timestamp is
        the whole second it was made in, so the fraction of a second is the wall clock's."""
        asked = time.time()
        next_block = self.client.chain_time()
        self._clock_offset = next_block - math.floor((asked + time.time()) / 2)

    def _wait_for_chain_time(self, timestamp: int) -> None:
        """Waits (at most MAX_CLOCK_WAIT_S) until the next block can carry `timestamp`."""
        self._sync_clock()  # measured again: the blocks since the round began may have moved the chain's clock
        deadline = time.monotonic() + MAX_CLOCK_WAIT_S
        while (behind := timestamp - self.chain_clock()) > 0 and time.monotonic() < deadline:
            time.sleep(min(behind, MAX_CLOCK_WAIT_S) + 0.01)
            self._sync_clock()

    def _check_offers(self) -> dict[int, Offer]:
        offers = {}
        for offer_id in self.config.offers:
            try:
                offer = self.client.offer(offer_id)
            except InvalidInput as exc:
                raise WorkerSetupError(str(exc)) from None
            if offer.provider.lower() != self.client.account.address.lower():
                raise WorkerSetupError(f"offer {offer_id} belongs to {offer.provider}, not this worker's account {self.client.account.address}")
            if offer.site_id != self.config.site.site_id:
                raise WorkerSetupError(f"offer {offer_id} is for site {offer.site_id}, this worker runs site {self.config.site.site_id}")
            if not offer.active:
                log.warning("offer is closed; it takes no jobs", extra={"offer_id": offer_id})
            offers[offer_id] = offer
        unserved = {offer_id: offer.model_id for offer_id, offer in offers.items()
                    if offer.active and offer.model_id not in self.config.model_sources()}
        if unserved:
            named = ", ".join(f"{name} (0x{model_id(name).hex()[:12]}…)" for name in self.config.models)
            raise WorkerSetupError(
                "; ".join(f"offer {offer_id} serves model 0x{model.hex()[:12]}…" for offer_id, model in unserved.items())
                + f", which [models] does not name (it names {named}): add the offer's model name to [models], or drop the offer")
        return offers

    def _publish_endpoint(self) -> None:
        """Makes the SiteRegistry name `[server] public_url` as the site's result endpoint (the
        requesters' CLI and the oracle download from there); needs the site owner's account."""
        url, site_id = self.config.server.public_url, self.config.site.site_id
        published = self.client.registry.functions.endpoint_of(site_id).call()
        if url is None and not published:
            log.warning("the site publishes no result endpoint: buyers cannot follow or download its jobs; set [server] "
                        "public_url to the address they reach this worker at", extra={"site": site_id})
        if url is None or published == url:
            return
        try:
            self.client.send("set_endpoint", site_id, url, to=self.client.registry)
        except TxRejected as exc:
            log.warning("cannot publish the result endpoint", extra={"url": url, "reason": exc.reason})
            return
        log.info("result endpoint published", extra={"site": site_id, "url": url})

    def _check_site(self) -> None:
        meter, self.max_gpu_watts, active = self.client.site_meter(self.config.site.site_id)
        self.registered_battery_wh = self.client.site(self.config.site.site_id)["battery_wh"]
        if meter.lower() != self.meter_key.address.lower():
            raise WorkerSetupError(
                f"the meter key {self.meter_key.address} is not site {self.config.site.site_id}'s registered meter {meter}"
            )
        if not active:
            log.warning("the site is not active: the market refuses its accepts and deliveries", extra={"site": self.config.site.site_id})
        if any(offer.green for offer in self.offers.values()) and self.recs.rec_allowance_to_market() == 0:
            log.warning("green deliveries will be refused until this account lets the market retire its RECs "
                        "(RECToken.approve(market, amount))", extra={"account": self.client.account.address})

    def _prepare_router(self, needed_akre: int) -> None:
        """Lets the GreenRouter deliver this account's jobs and spend `needed_akre` of its AKRE
        (a bounded allowance of `[green] router_allowance_akre`, renewed only once spent)."""
        for done in self.recs.prepare_router(needed_akre, base_units(self.config.green.router_allowance_akre)):
            log.info("GreenRouter set up", extra={"did": done})

    def _is_arbiter(self, address: str) -> bool:
        """Whether the market names `address` its arbiter, asked at most once a minute per
        address (a revoked arbiter loses access within that minute)."""
        now, address = time.monotonic(), address.lower()
        known = self._arbiters.get(address)
        if known is None or now - known[1] > ARBITER_CACHE_S:
            known = self._arbiters[address] = (self.client.is_arbiter(address), now)
        return known[0]

    def _entry(self, job_id: int) -> Entry | None:
        return self.journal.get(JobKey(self.client.chain_id, self.client.address, job_id))

    def _channel_job(self, job_id: int):
        return None if self.desk is None else self.desk.book.job(job_id)

    def _result_of(self, job_id: int) -> Result | None:
        entry = self._entry(job_id)
        if entry is None or "sha256" not in entry.data:
            booked = self._channel_job(job_id)
            return None if booked is None else Result(booked.metadata["requester"], booked.sha256, booked.served.cid)
        return Result(entry.data["requester"], bytes.fromhex(entry.data["sha256"]), entry.data["cid"])

    def _receipt_of(self, job_id: int) -> dict | None:
        entry = self._entry(job_id)
        if entry is None or "receipt" not in entry.data:
            booked = self._channel_job(job_id)
            if booked is None:
                return None
            delivered = self._delivery_record(booked.served.receipt, booked.served.meter_signature, None)
            return self._receipt_record(delivered["receipt"], delivered["signature"], None, booked.served.cid,
                                        booked.metadata) | {"channel_id": str(booked.channel_id),
                                                            "channels": self.channels_client.address}
        data = entry.data
        return self._receipt_record(data["receipt"], data["signature"], data["deliver_tx"], data["cid"], data)

    def _receipt_record(self, receipt: dict, signature: str, deliver_tx: str | None, cid: str, metadata: dict) -> dict:
        return {
            "receipt": receipt, "signature": signature, "deliver_tx": deliver_tx,
            "result_cid": cid, "chain_id": self.client.chain_id, "market": self.client.address,
            "metadata": {"meter": metadata["meter"], "estimated": metadata["estimated"], "batch": metadata["batch"],
                         "setup": metadata["setup"]},
        }

    def left_open(self) -> str:
        """The jobs in progress a stop leaves, said in a sentence (they resume at the next start)."""
        counts = self.journal.counts(self.client.chain_id, self.client.address)
        open_steps = [(step, counts.get(step, 0)) for step in ("seen", "accepted", "generated", "delivered")]
        total = sum(n for _, n in open_steps)
        if total == 0:
            return "no job in progress"
        detail = ", ".join(f"{n} {step}" for step, n in open_steps if n)
        return f"{total} job{'s' if total != 1 else ''} in progress ({detail}) resume at the next start"

    def health(self) -> dict:
        site = self._site
        return {
            "status": "ok",
            "chain_id": self.client.chain_id,
            "market": self.client.address,
            "provider": self.client.account.address,
            "site_id": self.config.site.site_id,
            "processed_block": self.follower.last_processed,
            "queue": len(self.queue),
            "jobs": self.journal.counts(self.client.chain_id, self.client.address),
            "meter": {"name": self.meter.name, "estimated": self.meter.estimated},
            "site": None if site is None else self._site_health(site),
            "waiting": {str(key.job_id): reason for key, reason in list(self._waiting.items())},
            "speed": None if self.speed is None else self.speed.model_dump(),
            "channels": None if self.desk is None else self.desk.health(),
        }


    def _site_health(self, site: SiteState) -> dict:
        agent = self.site_agent
        return {
            "pv_watts": site.pv_watts, "battery_soc_pct": site.battery_soc_pct, "has_battery": site.has_battery,
            "lifetime_wh": site.lifetime_wh, "lifetime_source": "production meter" if agent.meter_check else "inverters",
            "inverter_state": site.inverter_state, "battery_state": site.battery_state, "missing": list(site.missing),
            "notes": list(site.notes), "found": None if agent.layout is None else describe(agent.layout),
            "meter_check": None if agent.meter_check is None else agent.meter_check.last,
        }


class _Running(NamedTuple):
    """A pipeline call under way: its jobs, the denoising step it reached, since when."""

    job_ids: tuple[int, ...]
    step: int
    steps: int
    started: float

    def seconds_left(self) -> float | None:
        if self.step == 0:
            return None
        return round((time.monotonic() - self.started) / self.step * (self.steps - self.step), 1)


class _StepProgress:
    """Reports denoising steps to the metrics, to `on_step` and, on a terminal, to a rich
    progress bar."""

    def __init__(self, metrics: WorkerMetrics, progress, description: str, steps: int, on_step=None):
        self.metrics, self.progress, self.description, self.steps = metrics, progress, description, steps
        self.report = on_step

    def __enter__(self):
        self.metrics.step_total.set(self.steps)
        self.metrics.step_progress.set(0)
        self._task = None if self.progress is None else self.progress.add_task(self.description, total=self.steps)
        return self.on_step

    def on_step(self, done: int, total: int) -> None:
        self.metrics.step_progress.set(done)
        if self.report is not None:
            self.report(done, total)
        if self._task is not None:
            self.progress.update(self._task, completed=done)

    def __exit__(self, *exc) -> None:
        if self._task is not None:
            self.progress.remove_task(self._task)


def _gauge(value: float | None) -> float:
    """A site reading as a Prometheus gauge: NaN for a point the site does not report."""
    return float("nan") if value is None else value
