"""The oracle daemon (`degen oracle run`): the operator's side of the market.

Two threads share one database (SQLite or PostgreSQL):
- the HTTP API (Starlette under uvicorn, `oracle.ingest`): `POST /samples` from site agents, `/health`, `/metrics`;
- the chain loop, at each new block (its head asked every `head_poll_s`) and at least every
  `poll_interval_s`:
  1. follow the market's job events (backfill, confirmations, reorgs) into the journal;
  2. keeper: `expire` jobs past their deadline and `settle` deliveries past their challenge
     window, within a gas budget per round;
  3. verify each new delivery: download the result with the arbiter's credential, compare its
     sha256 with the on-chain hash, and check the receipt's energy against the site's
     telemetry;
  4. decide each dispute: the result must be served and match its hash, and the oracle's own
     re-run of the batch the worker declares it computed the job in must give the same image
     (exactly on the declared setup, perceptually otherwise; `oracle.disputes`); then sign that
     verdict as the committee's report;
  5. every `issuance.interval_s`: sign the committee's issuance reports for closed
     site-periods (`oracle.issuance`);
  6. as a member of the OracleCommittee (`oracle.committee`): send its signatures to the
     other members, and transmit each report that holds the threshold's signatures when the
     schedule says it is its turn.

Nothing is sent without reading the chain first: each transaction is simulated, and RECs are
issued only from a site's on-chain high-water mark on, so a restart after `kill -9` (even
between sending and recording) never expires, resolves or issues anything twice."""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import threading
import time

import requests
from pydantic import ValidationError
from web3.exceptions import Web3RPCError

from degen import downloads, telemetry
from degen.http import ServerThread
from degen.models import Computation, JobState, SiteStatus
from oracle import disputes, issuance, rules
from degen.committee import CommitteeView
from oracle.committee import Member
from oracle.config import OracleConfig
from oracle.ingest import Ingest, SignedSample, create_app
from oracle.journal import OracleJournal, Phase, Watched
from oracle.metrics import OracleMetrics
from oracle.rules import SiteRecord
from oracle.sites import SiteDirectory
from oracle.store import SampleStore, engine_for
from degen.inference.pipelines import Pipelines
from degen.chain.follower import Follower
from degen.chain.market import MarketClient, MarketEvent, TxRejected

log = logging.getLogger("oracle")

KILL_AT_ENV = "DEGEN_ORACLE_KILL_AT"  # crash tests: SIGKILL the oracle at this point
DOWNLOAD_VALIDITY_S = 300
WATCHED_EVENTS = ["JobCreated", "JobAccepted", "JobDelivered", "JobDisputed",
                  "JobSettled", "JobCancelled", "JobExpired", "JobResolved"]
FINAL_EVENTS = {"JobSettled": "settled", "JobCancelled": "cancelled", "JobExpired": "expired", "JobResolved": "resolved"}


def _kill_point(name: str) -> None:
    if os.environ.get(KILL_AT_ENV) == name:
        log.critical("killed at %s", name)
        os.kill(os.getpid(), signal.SIGKILL)


class OracleSetupError(ValueError):
    """The oracle's key is not a member of the committee."""


def delivery(event: MarketEvent, client: MarketClient) -> dict:
    """What the oracle keeps of a JobDelivered event to verify or judge the delivery."""
    args = event.args
    return {"site_id": args["site_id"], "result_hash": args["result_hash"].hex(), "energy_mwh": args["energy_mwh"],
            "started_at": args["started_at"], "finished_at": args["finished_at"],
            "delivered_at": client.block_timestamp(event.block_number)}


class MarketEvents(Follower):
    """The follower of every job event the oracle acts on."""

    def fetch(self, from_block: int, to_block: int) -> list[MarketEvent]:
        return self.client.events(WATCHED_EVENTS, from_block, to_block)

    def record(self, event: MarketEvent) -> bool:
        args, journal = event.args, self.journal
        if event.name == "JobCreated":
            return journal.record(
                args["job_id"], Phase.CREATED, requester=args["requester"], deadline=args["deadline"],
                challenge_window=args["challenge_window"], prompt=args["prompt"], params=dict(args["params"]),
                green=args["green"],
            )
        if event.name == "JobAccepted":
            return journal.record(args["job_id"], Phase.ACCEPTED)
        if event.name == "JobDelivered":
            return journal.record(args["job_id"], Phase.DELIVERED, **delivery(event, self.client))
        if event.name == "JobDisputed":
            return journal.record(args["job_id"], Phase.DISPUTED)
        if event.name == "JobResolved":
            return self._resolved(args["job_id"], args["provider_wins"])
        journal.finish(args["job_id"], FINAL_EVENTS[event.name])
        return False

    def _resolved(self, job_id: int, provider_wins: bool) -> bool:
        """The committee's verdict landed (whoever transmitted it): the job is done here, with
        this member's own reasons when it signed that verdict."""
        watched = self.journal.get(job_id)
        ours = {} if watched is None else watched.data.get("verdict", {})
        winner = "provider" if provider_wins else "requester"
        why = ours.get("why") if ours.get("winner") == winner else "the committee's verdict"
        self.journal.finish(job_id, f"resolved: {winner} wins ({why})")
        log.info("dispute resolved", extra={"job_id": job_id, "winner": winner, "why": why})
        return False


REPORT_FUNCTIONS = {"issuance": "issue", "site": "decide_site", "verdict": "resolve"}
# The contracts' answer to a report whose effect is on chain already (another member sent it).
ALREADY_DONE = ("rec: period overlaps", "market: job not disputed", "committee: stale site nonce")


class Oracle:
    def __init__(self, config: OracleConfig, client: MarketClient, rec, committee, *, start_block: int,
                 pipelines: Pipelines | None = None):
        self.config, self.client, self.rec, self.start_block = config, client, rec, start_block
        self.new_blocks = client.new_blocks(config.chain.head_poll_s)
        self.committee = committee
        self.pipelines = pipelines or Pipelines(config.model_sources(), device=None if config.verify.device == "auto" else config.verify.device)
        self.metrics = OracleMetrics()
        self._stop = threading.Event()
        self.sites = SiteDirectory(client.site_count, self._read_site, ttl_s=config.ingest.site_cache_s)
        self._issued_at = time.monotonic()  # the first issuance round comes one interval after start
        self._server: ServerThread | None = None
        self.server_port: int | None = None

    # ---- lifecycle -----------------------------------------------------------------------

    def setup(self) -> None:
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        self.engine = engine_for(self.config.database_url())
        self.store = SampleStore(self.engine)
        self.journal = OracleJournal(self.engine, self.client.chain_id, self.client.address)
        self._check_roles()
        chain = self.config.chain
        self.follower = MarketEvents(
            self.client, self.journal, confirmations=chain.confirmations,
            start_block=chain.start_block if chain.start_block is not None else self.start_block,
            max_range=chain.max_block_range,
        )
        self.ingest = Ingest(self.store, chain_id=self.client.chain_id, registry=self.client.registry.address)
        self.member = Member(self.engine, CommitteeView(self.committee, self.client.retry), self.client.account,
                             chain_id=self.client.chain_id, transmit_delay_s=self.config.committee.transmit_delay_s,
                             timeout_s=self.config.committee.peer_timeout_s, metrics=self.metrics)
        app = create_app(self.ingest, self.sites, health=self.health, metrics=self.metrics, committee=self.member)
        self._server = ServerThread(app, self.config.ingest.host, self.config.ingest.port)
        self.server_port = self._server.start()
        self._publish_endpoint()
        self._catch_up()
        log.info("oracle ready", extra={
            "account": self.client.account.address, "api": f"http://{self.config.ingest.host}:{self.server_port}",
            "database": self.engine.url.render_as_string(hide_password=True), "from_block": self.follower.last_processed + 1,
        })

    def _check_roles(self) -> None:
        account = self.client.account.address
        if not self.client.call(self.committee.functions.is_member(account)):
            raise OracleSetupError(f"{account} is not a member of the OracleCommittee {self.committee.address}: it cannot "
                                   "sign reports (the committee's admin, a timelock, adds members)")

    def _publish_endpoint(self) -> None:
        """Makes the committee name `[committee] public_url` as this member's endpoint, where
        its peers send their signatures and site agents their samples."""
        url = self.config.committee.public_url
        if url is None or self.client.call(self.committee.functions.endpoint_of(self.client.account.address)) == url:
            return
        try:
            self.client.send("set_endpoint", url, to=self.committee)
        except TxRejected as exc:
            log.warning("cannot publish this member's endpoint", extra={"url": url, "reason": exc.reason})
            return
        log.info("member endpoint published", extra={"url": url})

    def run_forever(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
            except (ConnectionError, TimeoutError, OSError) as exc:
                log.error("chain unreachable, retrying", extra={"error": str(exc)})
            except Web3RPCError as exc:
                log.error("node error, retrying", extra={"error": str(exc)})
            self.new_blocks.wait(self.config.chain.poll_interval_s, wake=self._stop)

    def request_stop(self) -> None:
        self._stop.set()

    def stop(self) -> None:
        self.request_stop()
        if self._server is not None:
            self._server.stop()
        if getattr(self, "ingest", None) is not None:
            self.ingest.close()
        if getattr(self, "engine", None) is not None:
            self.engine.dispose()

    def step(self) -> None:
        """One round of the chain loop (see the module docstring)."""
        self._follow()
        now = self.client.chain_time()
        self._keep(now)
        for watched in self.journal.at_phase(Phase.DELIVERED):
            if "verified" not in watched.data:
                self._verify(watched)
        for watched in self.journal.at_phase(Phase.DISPUTED):
            self._arbitrate(watched)
        if time.monotonic() - self._issued_at >= self.config.issuance.interval_s:
            self.issue(now)
            self._issued_at = time.monotonic()
        self.member.push()
        self._transmit()

    def _follow(self) -> None:
        while True:
            poll = self.follower.poll()
            self.metrics.head.set(poll.head)
            self.metrics.processed_block.set(poll.processed_to)
            if poll.processed_to >= poll.head - self.config.chain.confirmations:
                return

    # ---- sites ---------------------------------------------------------------------------

    def _read_site(self, site_id: int) -> SiteRecord | None:
        """The registry's record of a site, None if unknown (a chain read)."""
        fields = self.client.site(site_id)
        if int(fields["owner"], 16) == 0:
            return None
        return SiteRecord(meter=fields["meter"], pv_peak_watts=fields["pv_peak_watts"],
                          active=fields["status"] == SiteStatus.ACTIVE, battery_wh=fields["battery_wh"])

    def endpoint(self, site_id: int) -> str | None:
        """Where a site's worker serves results: the config's `[endpoints]` entry, else the
        URL the owner published in the SiteRegistry."""
        configured = self.config.endpoint(site_id)
        if configured is not None:
            return configured
        published = self.client.registry.functions.endpoint_of(site_id).call()
        return published.rstrip("/") or None

    # ---- keeper --------------------------------------------------------------------------

    def _keep(self, now: int) -> None:
        """Expires overdue jobs and settles deliveries past their window, oldest first, until
        the round's gas budget is spent."""
        budget = self.config.keeper.gas_budget
        due = [(w, "expire") for phase in (Phase.CREATED, Phase.ACCEPTED) for w in self.journal.at_phase(phase)
               if now > w.data.get("deadline", now)]
        due += [(w, "settle") for w in self.journal.at_phase(Phase.DELIVERED)
                if now > w.data["delivered_at"] + w.data.get("challenge_window", 0)]
        for watched, action in sorted(due, key=lambda item: item[0].job_id):
            state = self.client.job(watched.job_id).state
            expected = JobState.DELIVERED if action == "settle" else JobState.OPEN | JobState.ACCEPTED
            if not state & expected:
                self._finish_from_chain(watched.job_id, state)
                continue
            try:
                receipt = self.client.send(action, watched.job_id, gas_budget=budget)
            except TxRejected as exc:
                if exc.reason.startswith("gas budget"):
                    log.info("keeper gas budget spent for this round", extra={"left": budget, "next_job": watched.job_id})
                    return
                log.warning("keeper call refused", extra={"job_id": watched.job_id, "action": action, "reason": exc.reason})
                continue
            budget -= receipt["gasUsed"]
            self.metrics.keeper.labels(action=action).inc()
            self.metrics.keeper_gas.inc(receipt["gasUsed"])
            self.journal.finish(watched.job_id, "expired" if action == "expire" else "settled")
            log.info(f"job {action}d by the keeper", extra={"job_id": watched.job_id, "gas": receipt["gasUsed"]})

    def _finish_from_chain(self, job_id: int, state: JobState) -> None:
        """A job the chain has moved on without us (its event is on its way, or was reorged)."""
        if state & (JobState.SETTLED | JobState.CANCELLED | JobState.EXPIRED | JobState.REFUNDED):
            self.journal.finish(job_id, state.name.lower())
        elif state == 0:
            self.journal.finish(job_id, "gone")  # only on a branch that was reorged away

    # ---- verification --------------------------------------------------------------------

    def _download(self, job_id: int, site_id: int) -> bytes | None:
        """The job's result from its site's endpoint, with the arbiter's credential; None when
        the site has no endpoint configured or does not serve it."""
        base = self.endpoint(site_id)
        if base is None:
            return None
        expiry = int(time.time()) + DOWNLOAD_VALIDITY_S  # the worker checks it against its own clock, not the chain's
        signature = downloads.sign(self.client.account, job_id, expiry, self.client.chain_id, self.client.address)
        try:
            response = downloads.fetch(base, job_id, expiry, signature, timeout_s=self.config.verify.download_timeout_s)
        except requests.RequestException as exc:
            log.warning("result download failed", extra={"job_id": job_id, "url": base, "error": str(exc)})
            return None
        if response.status_code != 200:
            log.warning("result not served", extra={"job_id": job_id, "url": base, "status": response.status_code})
            return None
        return response.content

    def _verify(self, watched: Watched) -> None:
        data, job_id = watched.data, watched.job_id
        if self.endpoint(data["site_id"]) is None:
            self.journal.note(job_id, verified="no-endpoint")
            self.metrics.verified.labels(outcome="no-endpoint").inc()
            log.warning("the site publishes no endpoint; delivery not verified", extra={"job_id": job_id, "site": data["site_id"]})
            return
        png = self._download(job_id, data["site_id"])
        if png is None:
            attempts = data.get("download_attempts", 0) + 1
            outcome = "unreachable" if attempts >= self.config.verify.attempts else None
            self.journal.note(job_id, download_attempts=attempts, **({"verified": outcome} if outcome else {}))
            if outcome:
                self.metrics.verified.labels(outcome=outcome).inc()
                log.warning("delivered result unreachable", extra={"job_id": job_id, "attempts": attempts})
            return
        outcome = "ok" if hashlib.sha256(png).hexdigest() == data["result_hash"] else "hash-mismatch"
        energy = self._energy_check(job_id, data)
        self.journal.note(job_id, verified=outcome, energy_check=energy)
        self.metrics.verified.labels(outcome=outcome).inc()
        level = logging.INFO if outcome == "ok" else logging.WARNING
        log.log(level, "delivery verified" if outcome == "ok" else "delivered result does not match its hash",
                extra={"job_id": job_id, "outcome": outcome, "energy_check": energy})

    def _energy_check(self, job_id: int, data: dict) -> str:
        """Whether the receipt's energy fits what the site's telemetry says was available over
        the job (PV at its highest sampled power, plus the battery's charge at the start; none
        where the site reported no battery)."""
        site = self.sites.lookup(data["site_id"])
        interval = 2 * telemetry.SAMPLE_INTERVAL_S
        samples = [s for s, _ in self.store.between(data["site_id"], data["started_at"] - interval, data["finished_at"] + interval)]
        if site is None or not samples:
            return "no-telemetry"
        before = [s for s in samples if s.timestamp <= data["started_at"]] or samples[:1]
        seconds = data["finished_at"] + 1 - data["started_at"]  # a receipt names whole seconds: the work may fill its last one
        pv_wh = max(s.pv_watts for s in samples) * seconds / 3600
        battery_wh = site.battery_wh * before[-1].battery_soc_permille / 1000 if before[-1].has_battery else 0
        if data["energy_mwh"] > (pv_wh + battery_wh) * 1000:
            self.metrics.receipt_mismatches.inc()
            log.warning("receipt claims more energy than the site had", extra={
                "job_id": job_id, "energy_mwh": data["energy_mwh"], "available_mwh": int((pv_wh + battery_wh) * 1000),
            })
            return "exceeds-telemetry"
        return "ok"

    # ---- disputes ------------------------------------------------------------------------

    def _arbitrate(self, watched: Watched) -> None:
        job_id, data = watched.job_id, watched.data
        job = self.client.job(job_id)
        if job.state != JobState.DISPUTED:
            return self._finish_from_chain(job_id, job.state)
        config = self.member.view.state().config
        if data.get("verdict", {}).get("config") == config:
            return  # signed for this configuration: the committee's report resolves it
        if "site_id" not in data:  # delivered before this member's first followed block
            delivered = self._event_before_following("JobDelivered", job_id)
            if delivered is None:
                log.error("a disputed job's JobDelivered event is not on chain", extra={"job_id": job_id})
                return
            fields = delivery(delivered, self.client)
            data.update(fields)
            self.journal.note(job_id, **fields)
        provider_wins, why = self._judge(job_id, data, job)
        if provider_wins is None:
            return  # cannot decide yet (logged); asked again next round
        self.member.sign(self.member.report("verdict", {"config": config, "job_id": job_id, "provider_wins": provider_wins}))
        self.metrics.reports.labels(kind="verdict", step="signed").inc()
        winner = "provider" if provider_wins else "requester"
        self.journal.note(job_id, verdict={"config": config, "winner": winner, "why": why})
        self.metrics.disputes.labels(winner=winner).inc()
        log.info("verdict signed", extra={"job_id": job_id, "winner": winner, "why": why})

    def _judge(self, job_id: int, data: dict, job) -> tuple[bool | None, str]:
        png = self._download(job_id, data["site_id"])
        computation = self._declared_computation(job_id, data["site_id"]) if png is not None else None
        if png is None or computation is None:
            attempts = data.get("dispute_attempts", 0) + 1
            self.journal.note(job_id, dispute_attempts=attempts)
            if attempts < self.config.verify.attempts:
                return None, "result not served yet"
            missing = "the result" if png is None else "how it computed the result (/receipts metadata)"
            return False, f"the provider does not serve {missing}"
        if hashlib.sha256(png).hexdigest() != data["result_hash"]:
            return False, "the served result does not match the delivered hash"
        if "energy_check" not in data:  # checked (and counted) once per delivery
            data["energy_check"] = self._energy_check(job_id, data)
            self.journal.note(job_id, energy_check=data["energy_check"])
        if data.get("green") and data["energy_check"] == "exceeds-telemetry":
            return False, "a green receipt claims more energy than the site's telemetry had available"
        if isinstance(computation, str):
            return False, computation
        offer = self.client.offer(job.offer_id)
        if not self.pipelines.knows(offer.model_id):
            log.error("cannot re-run a disputed job: its model is not configured", extra={"job_id": job_id, "model": "0x" + offer.model_id.hex()})
            return None, "model not configured"
        try:
            batch = disputes.rebuild(job_id, computation.batch, offer.provider, self._batch_member)
        except disputes.BatchNotRebuildable as exc:
            return False, f"the declared batch cannot be rebuilt from the chain: {exc}"
        declared = computation.setup
        threads = declared.threads if declared.threads <= self.config.verify.max_threads else None
        log.info("re-running a disputed job", extra={"job_id": job_id, "batch": ",".join(map(str, computation.batch)), "threads": threads})
        rerun = disputes.rerun(self.pipelines, batch, job_id, threads)
        return disputes.verdict(rerun, png, declared, self.pipelines.setup(threads), len(batch))

    def _declared_computation(self, job_id: int, site_id: int) -> Computation | str | None:
        """How the provider's worker says it computed a delivery (`/receipts/{id}` metadata):
        None while it does not answer, a sentence when what it publishes is malformed."""
        base = self.endpoint(site_id)
        try:
            response = requests.get(f"{base}/receipts/{job_id}", timeout=self.config.verify.download_timeout_s)
        except requests.RequestException:
            return None
        if response.status_code != 200:
            return None
        try:
            metadata = response.json()["metadata"]
            return Computation(batch=metadata["batch"], setup=metadata["setup"])
        except (ValueError, KeyError, TypeError) as exc:  # InvalidInput is a ValueError
            return f"the provider publishes a malformed computation record: {str(exc)[:200]}"

    def _batch_member(self, job_id: int) -> disputes.Member:
        """A job of a declared batch as the chain has it: who took it, and its generation."""
        job = self.client.job(job_id)
        if not job.state or job.state & (JobState.OPEN | JobState.CANCELLED) or not job.offer_id:
            raise disputes.BatchNotRebuildable(f"job {job_id} was never taken by a provider")
        offer = self.client.offer(job.offer_id)
        created = self._created(job_id)
        if created is None:
            raise disputes.BatchNotRebuildable(f"job {job_id}'s JobCreated event is not on chain")
        return disputes.Member(offer.provider, disputes.task_of(job_id, offer.model_id, *created))

    def _created(self, job_id: int) -> tuple[str, dict] | None:
        """A job's prompt and params: from the journal, or for a job created before the
        oracle's first followed block, from its JobCreated event."""
        watched = self.journal.get(job_id)
        if watched is not None and "prompt" in watched.data:
            return watched.data["prompt"], watched.data["params"]
        created = self._event_before_following("JobCreated", job_id)
        return None if created is None else (created.args["prompt"], dict(created.args["params"]))

    def _event_before_following(self, name: str, job_id: int) -> MarketEvent | None:
        """A job's event from the blocks before the oracle's first followed one (a member that
        joined, or started following, after it)."""
        first_followed = self.follower.start_block
        for start in range(self.start_block, first_followed, self.config.chain.max_block_range):
            end = min(start + self.config.chain.max_block_range, first_followed) - 1
            for event in self.client.events([name], start, end, job_id=job_id):
                return event
        return None

    # ---- issuance ------------------------------------------------------------------------

    def issue(self, now: int) -> list[issuance.SitePeriod]:
        """Signs the committee's issuance reports for every site-period that is ready,
        batched across sites. Every member computes the same batches: what is ready is judged
        at `now` aligned down to the period grid (less the grace), so members polling a few
        seconds apart see the same periods, and sorted by start and site."""
        rules = self.config.issuance.rules()
        aligned = (now - rules.grace_s) // rules.period_s * rules.period_s + rules.grace_s
        ready = []
        for site_id in self.store.site_ids():
            site = self.sites.lookup(site_id)
            if site is None or not site.active:
                continue
            mark = self.rec.functions.high_water_mark(site_id).call()
            samples = self.store.between(site_id, mark, now)
            ready += issuance.ready_periods(
                site_id, samples, high_water_mark=mark, pv_peak_watts=site.pv_peak_watts, now=aligned,
                rules=rules, chain_id=self.client.chain_id, registry=self.client.registry.address,
            )
        ready.sort(key=lambda period: (period.start, period.site_id))  # a site's periods in order, across batches
        size, config = self.config.issuance.max_batch, self.member.view.state().config
        for first in range(0, len(ready), size):
            batch = ready[first:first + size]
            report = self.member.report("issuance", {"config": config, "requests": [
                {"site_id": p.site_id, "period_start": p.start, "period_end": p.end, "energy_mwh": p.energy_mwh,
                 "evidence_root": "0x" + p.evidence_root.hex()} for p in batch]})
            if self.member.sign(report):
                self.metrics.reports.labels(kind="issuance", step="signed").inc()
                log.info("issuance signed", extra={"periods": len(batch), "digest": "0x" + report.digest.hex()[:16],
                                                   "first": f"site {batch[0].site_id} {batch[0].start}..{batch[0].end}"})
        return ready

    # ---- the committee -------------------------------------------------------------------

    def _catch_up(self) -> int:
        """Copies from the other members the samples of active sites newer than this store's
        newest (within the age the rules take), a day at a time, each through the same checks
        as a site agent's (its meter signature included): a member started with an empty store,
        or back after an outage, signs the same reports as its peers. Returns how many it took."""
        state = self.member.view.state()
        peers = [state.endpoints[m] for m in state.members if m != self.client.account.address and state.endpoints.get(m)]
        now, taken = int(time.time()), 0
        for site_id in range(1, self.client.site_count() + 1) if peers else ():
            site = self.sites.lookup(site_id)
            if site is None or not site.active:
                continue
            latest = self.store.latest(site_id)
            since = max(now - rules.MAX_AGE_S, self.rec.functions.high_water_mark(site_id).call(),
                        0 if latest is None else latest[0].timestamp + 1)
            for peer in peers:
                taken += self._copy_from(peer, site_id, site, since, now)
        if taken:
            log.info("caught up from the other members", extra={"samples": taken})
        return taken

    def _copy_from(self, peer: str, site_id: int, site, since: int, now: int) -> int:
        taken = 0
        for start in range(since, now + 1, 86_400):
            try:
                answer = requests.get(f"{peer}/sites/{site_id}/samples", params={"since": start, "until": min(start + 86_399, now)},
                                      timeout=self.config.committee.peer_timeout_s)
                bodies = answer.json()["samples"] if answer.status_code == 200 else []
            except (requests.RequestException, ValueError, KeyError, TypeError):
                return taken  # that peer is down or answers nonsense: the others may do
            for body in bodies if isinstance(bodies, list) else []:
                try:
                    taken += self.ingest(SignedSample.model_validate(body), site)
                except (rules.SampleRejected, ValidationError):
                    continue  # what the rules refuse is never taken, whoever sends it
        return taken


    def _transmit(self) -> None:
        """Sends each complete report whose turn is this member's (see `oracle.committee`),
        unless its effect is on chain already."""
        for report, signatures in self.member.ready(time.time()):
            digest = "0x" + report.digest.hex()
            if self._done_on_chain(report):
                self.member.finish(digest, "on chain")
                continue
            _kill_point(f"{REPORT_FUNCTIONS[report.kind]}-before-send")
            try:
                receipt = self.client.send(REPORT_FUNCTIONS[report.kind], report.arguments(), signatures, to=self.committee)
            except TxRejected as exc:
                if exc.reason.startswith(ALREADY_DONE) or exc.reason == "committee: stale config":
                    self.member.finish(digest, exc.reason)
                else:
                    log.warning("report refused", extra={"kind": report.kind, "digest": digest[:18], "reason": exc.reason})
                continue
            _kill_point(f"{REPORT_FUNCTIONS[report.kind]}-sent")
            self.member.finish(digest, receipt["transactionHash"].to_0x_hex())
            self.metrics.reports.labels(kind=report.kind, step="transmitted").inc()
            self._count(report)
            log.info("report transmitted", extra={"kind": report.kind, "subject": report.subject, "signers": len(signatures),
                                                  "gas": receipt["gasUsed"], "tx": receipt["transactionHash"].to_0x_hex()})

    def _done_on_chain(self, report) -> bool:
        message = report.message
        if report.kind == "issuance":
            return all(self.rec.functions.high_water_mark(r["site_id"]).call() >= r["period_end"] for r in message["requests"])
        if report.kind == "verdict":
            return self.client.job(message["job_id"]).state != JobState.DISPUTED
        return self.client.call(self.committee.functions.site_nonce(message["site_id"])) > message["nonce"]

    def _count(self, report) -> None:
        if report.kind == "issuance":
            for request in report.message["requests"]:
                self.metrics.site_periods.inc()
                self.metrics.issued_mwh.inc(request["energy_mwh"])
                log.info("RECs issued", extra={"site": request["site_id"], "period": f"{request['period_start']}..{request['period_end']}",
                                               "energy_mwh": request["energy_mwh"], "root": "0x" + request["evidence_root"].hex()[:16]})

    def left_open(self) -> str:
        """The jobs it still watches, said in a sentence (it follows them again at the next start)."""
        counts = {phase: n for phase, n in self.journal.counts().items() if phase != "done"}
        if not counts:
            return "no job watched"
        total = sum(counts.values())
        detail = ", ".join(f"{n} {phase}" for phase, n in counts.items())
        return f"{total} watched job{'s' if total != 1 else ''} ({detail}) followed again at the next start"

    def health(self) -> dict:
        state = self.member.view.state()
        return {
            "status": "ok", "chain_id": self.client.chain_id, "market": self.client.address,
            "account": self.client.account.address, "processed_block": self.follower.last_processed,
            "jobs": self.journal.counts(), "sites": len(self.store.site_ids()),
            "committee": {"address": self.committee.address, "config": state.config, "threshold": state.threshold,
                          "members": list(state.members)},
        }
