"""The oracle as one member of the OracleCommittee: the chain is the agreement.

Every member computes its reports from its own store and its own re-runs (the same
deterministic functions of the same signed samples and of the chain, so honest members sign
byte-identical reports), signs them with its key and sends each signature to every other
member's API (`POST /committee/signatures`, endpoints from the committee contract). A member
keeps every valid signature it receives — by a current member, over a well-formed report of
the current configuration — in its database beside the samples, and never signs a report
because others did: it signs only what it computed itself.

Once a report holds `threshold` signatures, one member transmits it: members rank themselves
for that report by keccak256(digest ‖ address) and the i-th in that order waits i ×
`transmit_delay_s` after the report became complete (in its own view) before sending, so one
member pays the gas and the next steps in when it does not. A report whose effect is already
on chain (the sites' high-water marks past its periods, the job no longer disputed, the
site's nonce moved on) is done and never sent; a late duplicate is refused by the contracts
and marked done the same way."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass

import requests
from eth_utils import keccak, to_checksum_address
from sqlalchemy import BigInteger, Column, Float, Integer, LargeBinary, String, Table, Text, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from degen import committee as reports
from degen import eip712
from degen.committee import CommitteeView, IssuanceRequest
from degen.errors import InvalidSignature
from oracle.rules import Refused
from oracle.store import metadata

log = logging.getLogger("oracle.committee")

KINDS = {"issuance": 1, "site": 2, "verdict": 3}
MAX_REPORT_BYTES = 64 * 1024

signatures_table = Table(
    "committee_signatures", metadata,
    Column("digest", String(66), primary_key=True),
    Column("signer", String(42), primary_key=True),
    Column("signature", LargeBinary(65), nullable=False),
    Column("received_at", Float, nullable=False),
)

reports_table = Table(
    "committee_reports", metadata,
    Column("digest", String(66), primary_key=True),
    Column("kind", Integer, nullable=False),
    Column("subject", BigInteger, nullable=False),
    Column("config", BigInteger, nullable=False),
    Column("message", Text, nullable=False),
    Column("signed_by_us", Integer, nullable=False),
    Column("complete_at", Float),  # when this member first held `threshold` signatures of it
    Column("outcome", Text),  # set once done: transmitted (tx hash), or why it is done without us
)


class ReportRefused(Refused):
    """A signature or report a member does not keep."""


@dataclass(frozen=True)
class Report:
    """A report as members sign it: its kind, the typed data and its digest."""

    kind: str
    typed: dict

    @property
    def digest(self) -> bytes:
        return eip712.digest(self.typed)

    @property
    def message(self) -> dict:
        return self.typed["message"]

    @property
    def config(self) -> int:
        return self.message["config"]

    @property
    def subject(self) -> int:
        """What the report is about: its first site (issuance), its site, or its job."""
        message = self.message
        return message["requests"][0]["site_id"] if self.kind == "issuance" else message.get("site_id", message.get("job_id"))

    def arguments(self) -> tuple:
        return reports.as_arguments(self.typed)

    def as_json(self) -> dict:
        """The report as members send it (bytes as 0x-hex)."""
        return {"kind": self.kind, "message": _jsonable(self.message)}

    @classmethod
    def of(cls, kind: str, message: dict, chain_id: int, committee: str) -> Report:
        """A report rebuilt from its JSON message in this member's own domain (chain and
        committee): a report for another chain or committee recovers some other signer.
        ReportRefused (422) for anything that is not a well-formed report."""
        try:
            if kind == "issuance":
                requests_ = [IssuanceRequest(int(r["site_id"]), int(r["period_start"]), int(r["period_end"]), int(r["energy_mwh"]),
                                             _bytes32(r["evidence_root"])) for r in message["requests"]]
                if not 1 <= len(requests_) <= 128:
                    raise ValueError("an issuance report holds 1 to 128 site-periods")
                typed = reports.issuance_report(int(message["config"]), requests_, chain_id, committee)
            elif kind == "site":
                typed = reports.site_report(
                    int(message["config"]), int(message["site_id"]), int(message["nonce"]), bool(message["active"]),
                    meter=to_checksum_address(message["meter"]), pv_peak_watts=int(message["pv_peak_watts"]),
                    battery_wh=int(message["battery_wh"]), max_gpu_watts=int(message["max_gpu_watts"]),
                    chain_id=chain_id, committee=committee)
            elif kind == "verdict":
                typed = reports.verdict_report(int(message["config"]), int(message["job_id"]), bool(message["provider_wins"]),
                                               chain_id, committee)
            else:
                raise ValueError(f"unknown report kind {kind!r} (issuance, site or verdict)")
            eip712.digest(typed)  # every value fits its type
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise ReportRefused(422, f"not a well-formed {kind} report: {str(exc)[:200]}") from None
        return cls(kind, typed)


def _bytes32(value) -> bytes:
    raw = bytes.fromhex(value[2:]) if isinstance(value, str) and value.startswith("0x") else b""
    if len(raw) != 32:
        raise ValueError("an evidence root is 0x and 64 hex digits")
    return raw


def _jsonable(value):
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    return value


def transmit_rank(digest: bytes, members: tuple[str, ...]) -> list[str]:
    """The order in which members transmit a complete report: by keccak256(digest ‖ address),
    the same for every member."""
    return sorted(members, key=lambda member: keccak(digest + bytes.fromhex(member[2:])))


def send_signature(endpoint: str | None, report: Report, signature: bytes, timeout_s: float, metrics=None) -> str:
    """Sends one signature over `report` to a member's API; what it answered, in words (and,
    with `metrics`, counted with the bytes sent)."""
    if not endpoint:
        return "publishes no endpoint"
    body = json.dumps(report.as_json() | {"signature": "0x" + signature.hex()}).encode()
    if metrics is not None:
        metrics.signature_bytes.inc(len(body))
    try:
        answer = requests.post(f"{endpoint}/committee/signatures", data=body, headers={"Content-Type": "application/json"},
                               timeout=timeout_s)
    except requests.RequestException:
        return f"unreachable at {endpoint}"
    if answer.status_code in (200, 201):
        return "kept it"
    try:
        detail = answer.json().get("detail", answer.text)
    except ValueError:
        detail = answer.text
    return f"refused it ({answer.status_code}: {str(detail)[:200]})"


class Member:
    """This oracle's signatures, the ones its peers send, and the schedule that transmits."""

    def __init__(self, engine: Engine, view: CommitteeView, key, *, chain_id: int, transmit_delay_s: float = 10.0,
                 timeout_s: float = 5.0, metrics=None):
        self.engine, self.view, self.key, self.metrics = engine, view, key, metrics
        self.address = key.address
        self.chain_id, self.transmit_delay_s, self.timeout_s = chain_id, transmit_delay_s, timeout_s
        self._pushed: set[tuple[str, str]] = set()  # (digest, peer) that took our signature
        self._warned: set[tuple[str, str]] = set()  # (digest, peer) that refused it, said in the log

    def report(self, kind: str, message: dict) -> Report:
        return Report.of(kind, message, self.chain_id, self.view.address)

    # ---- signing and keeping signatures --------------------------------------------------

    def sign(self, report: Report) -> bool:
        """Signs a report this member computed itself and keeps it; False when it had signed
        that very report already."""
        signature = eip712.sign(report.typed, self.key.key)
        self._keep_report(report, signed_by_us=True)
        return self._keep_signature(report, self.address, signature)

    def receive(self, kind: str, message: dict, signature_hex: str) -> tuple[int, str]:
        """A peer's signature over a report: kept when a current member signed a well-formed
        report of the current configuration (201; 200 when kept already); ReportRefused with
        the answer otherwise."""
        report = self.report(kind, message)
        state = self.view.state()
        if report.config != state.config:
            raise ReportRefused(409, f"the report names configuration {report.config}; the committee is at {state.config}")
        try:
            signature = bytes.fromhex(signature_hex.removeprefix("0x")) if isinstance(signature_hex, str) else b""
            signer = eip712.recover_digest(report.digest, signature)
        except (ValueError, InvalidSignature) as exc:
            raise ReportRefused(401, f"the signature is not one the committee takes: {exc}") from None
        if signer not in state.members:
            raise ReportRefused(401, f"{signer} is not a member of the committee")
        self._keep_report(report, signed_by_us=False)
        return (201, "kept") if self._keep_signature(report, signer, signature) else (200, "kept already")

    def _keep_report(self, report: Report, *, signed_by_us: bool) -> None:
        digest = "0x" + report.digest.hex()
        try:
            with self.engine.begin() as db:
                db.execute(insert(reports_table).values(
                    digest=digest, kind=KINDS[report.kind], subject=report.subject, config=report.config,
                    message=json.dumps(report.as_json()), signed_by_us=int(signed_by_us)))
        except IntegrityError:  # kept already; a failed insert ends PostgreSQL's transaction, so mark in a new one
            if signed_by_us:
                with self.engine.begin() as db:
                    db.execute(update(reports_table).where(reports_table.c.digest == digest).values(signed_by_us=1))

    def _keep_signature(self, report: Report, signer: str, signature: bytes) -> bool:
        try:
            with self.engine.begin() as db:
                db.execute(insert(signatures_table).values(digest="0x" + report.digest.hex(), signer=signer, signature=signature,
                                                           received_at=time.time()))
            return True
        except IntegrityError:
            return False

    def signatures(self, digest: str) -> dict[str, bytes]:
        with self.engine.connect() as db:
            rows = db.execute(select(signatures_table.c.signer, signatures_table.c.signature)
                              .where(signatures_table.c.digest == digest)).all()
        return {signer: signature for signer, signature in rows}

    def attestations(self, kind: str, subject: int) -> list[dict]:
        """The reports of `kind` about `subject` this member holds, each with who signed it and
        the signatures (self-authenticating: anyone may check them, or prove an equivocation)."""
        with self.engine.connect() as db:
            rows = db.execute(select(reports_table).where(reports_table.c.kind == KINDS[kind],
                                                          reports_table.c.subject == subject)).mappings().all()
        answered = []
        for row in rows:
            signatures = self.signatures(row["digest"])
            answered.append({"digest": row["digest"], "config": row["config"], "report": json.loads(row["message"]),
                             "signers": sorted(signatures), "outcome": row["outcome"],
                             "signatures": {signer: "0x" + signature.hex() for signer, signature in sorted(signatures.items())}})
        return answered

    def _open(self) -> list[dict]:
        with self.engine.connect() as db:
            return [dict(row) for row in db.execute(select(reports_table).where(reports_table.c.outcome.is_(None))).mappings()]

    def finish(self, digest: str, outcome: str) -> None:
        with self.engine.begin() as db:
            db.execute(update(reports_table).where(reports_table.c.digest == digest).values(outcome=outcome))

    # ---- a round: push our signatures, transmit what is complete --------------------------

    def push(self) -> None:
        """Sends this member's signature of every open report it signed to each peer that has
        not taken it yet (a peer down now gets it in a later round)."""
        state = self.view.state()
        for row in self._open():
            if not row["signed_by_us"] or row["config"] != state.config:
                continue
            ours = self.signatures(row["digest"]).get(self.address)
            if ours is None:
                continue
            stored = json.loads(row["message"])
            report = self.report(stored["kind"], stored["message"])
            for peer in state.members:
                if peer == self.address or (row["digest"], peer) in self._pushed:
                    continue
                answer = send_signature(state.endpoints.get(peer), report, ours, self.timeout_s, self.metrics)
                if self.metrics is not None:
                    self.metrics.signatures_sent.labels(answer=answer.split(" ")[0]).inc()
                if answer == "kept it":
                    self._pushed.add((row["digest"], peer))
                elif answer.startswith("refused") and "(409" not in answer and (row["digest"], peer) not in self._warned:
                    self._warned.add((row["digest"], peer))  # said once; 409: it moved to another configuration
                    log.warning("a peer refused our signature", extra={"peer": peer, "answer": answer})

    def ready(self, now: float) -> list[tuple[Report, list[bytes]]]:
        """The open reports of the current configuration that hold `threshold` signatures of
        current members and whose turn, by the schedule, is this member's now; each with its
        signatures ordered by signer."""
        state = self.view.state()
        due = []
        for row in self._open():
            if row["config"] != state.config:
                continue
            found = {s: sig for s, sig in self.signatures(row["digest"]).items() if s in state.members}
            if len(found) < state.threshold or state.threshold == 0:
                continue
            if row["complete_at"] is None:
                row["complete_at"] = now
                with self.engine.begin() as db:
                    db.execute(update(reports_table).where(reports_table.c.digest == row["digest"]).values(complete_at=now))
            rank = transmit_rank(bytes.fromhex(row["digest"][2:]), state.members)
            if self.address in rank and now - row["complete_at"] >= rank.index(self.address) * self.transmit_delay_s:
                message = json.loads(row["message"])
                report = self.report(message["kind"], message["message"])
                chosen = dict(sorted(found.items(), key=lambda item: int(item[0], 16))[:state.threshold])
                due.append((report, reports.ordered(chosen)))
        return due
