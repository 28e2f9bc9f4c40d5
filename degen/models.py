"""Typed models of DeGEN's on-chain objects, shared by the CLI, worker, oracle and tests.

Amounts are integers in token base units, energy in mWh, times in unix seconds, as on chain.
"""

from __future__ import annotations

from enum import IntFlag

from eth_abi import encode as abi_encode
from eth_utils import keccak, to_checksum_address
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from degen import limits
from degen.errors import DegenError, InvalidInput, InvalidReceipt, describe

Uint64 = Field(ge=0, le=limits.UINT64_MAX)
ChannelId = Field(gt=0, le=limits.UINT256_MAX)  # JobChannels numbers channels from 1
ZERO_ADDRESS = "0x" + "00" * 20


def _bytes32(value: bytes | str) -> bytes:
    """Accepts 32 raw bytes or their 0x-hex form."""
    if isinstance(value, str):
        value = bytes.fromhex(value.removeprefix("0x"))
    if not isinstance(value, (bytes, bytearray)):
        raise InvalidInput("expected 32 bytes or their 0x-hex form")
    if len(value) != 32:
        raise InvalidInput(f"expected 32 bytes, got {len(value)}")
    return bytes(value)


class SiteStatus(IntFlag):
    """Mirrors `ISiteRegistry.SiteStatus` (a Vyper flag: one bit per member)."""

    PENDING = 1
    ACTIVE = 2
    SUSPENDED = 4


class JobState(IntFlag):
    """Mirrors `IJobMarket.JobState` (a Vyper flag: one bit per member)."""

    OPEN = 1
    ACCEPTED = 2
    DELIVERED = 4
    SETTLED = 8
    CANCELLED = 16
    EXPIRED = 32
    DISPUTED = 64
    REFUNDED = 128


class _Model(BaseModel):
    """Immutable; invalid data raises InvalidInput (or the DegenError a validator raised)."""

    model_config = ConfigDict(frozen=True)

    def __init__(self, **data):
        try:
            super().__init__(**data)
        except ValidationError as exc:
            for error in exc.errors():
                cause = error.get("ctx", {}).get("error")
                if isinstance(cause, DegenError):
                    raise cause from None
            raise InvalidInput(f"invalid {type(self).__name__}: {describe(exc.errors())}") from None


class GenerationParams(_Model):
    """How an image is to be generated; the bounds are the market's."""

    width: int = Field(512, ge=limits.MIN_IMAGE_SIDE, le=limits.MAX_IMAGE_SIDE, multiple_of=8)
    height: int = Field(512, ge=limits.MIN_IMAGE_SIDE, le=limits.MAX_IMAGE_SIDE, multiple_of=8)
    steps: int = Field(20, ge=1, le=limits.MAX_STEPS)
    guidance_x100: int = Field(750, ge=0, le=limits.MAX_GUIDANCE_X100)
    seed: int = Uint64

    def as_tuple(self) -> tuple[int, int, int, int, int]:
        return (self.width, self.height, self.steps, self.guidance_x100, self.seed)


def check_prompt(prompt: str) -> str:
    """Returns the prompt if the market accepts it, else raises InvalidInput."""
    try:
        size = len(prompt.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidInput("the prompt is not Unicode text (it holds a lone surrogate)") from None
    if size == 0:
        raise InvalidInput("the prompt is empty")
    if size > limits.MAX_PROMPT_BYTES:
        raise InvalidInput(f"the prompt is {size} bytes; the market accepts at most {limits.MAX_PROMPT_BYTES}")
    return prompt


def model_id(name: str) -> bytes:
    """The bytes32 a model is known by on chain: keccak256 of its UTF-8 name."""
    if not name.strip():
        raise InvalidInput("a model name cannot be empty")
    return keccak(name.encode("utf-8"))


def request_hash(prompt: str, params: GenerationParams) -> bytes:
    """keccak256(abi_encode(prompt, params)), exactly as JobMarket stores it."""
    return keccak(abi_encode(["string", "(uint16,uint16,uint16,uint16,uint64)"], [check_prompt(prompt), params.as_tuple()]))


class JobTerms(_Model):
    """A requester's terms. `offer_id == 0` makes an open job."""

    offer_id: int = Field(0, ge=0)
    model_id: bytes = b"\x00" * 32
    max_price: int = Field(gt=0, le=limits.MAX_PRICE)
    min_collateral: int = Field(0, ge=0, le=limits.MAX_COLLATERAL)
    deadline: int = Field(gt=0)
    challenge_window: int = Field(3600, ge=limits.MIN_CHALLENGE_WINDOW, le=limits.MAX_CHALLENGE_WINDOW)
    green: bool = False
    beneficiary: str | None = None  # who gets a green job's certificate; None: the requester

    _model_bytes = field_validator("model_id", mode="before")(_bytes32)

    @field_validator("beneficiary")
    @classmethod
    def _checksummed(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return to_checksum_address(value)
        except ValueError:
            raise InvalidInput(f"the certificate beneficiary {value!r} is not an address") from None

    @model_validator(mode="after")
    def _consistent(self) -> JobTerms:
        if self.offer_id == 0 and self.model_id == b"\x00" * 32:
            raise InvalidInput("an open job (no offer id) must name a model id")
        if self.beneficiary is not None and not self.green:
            raise InvalidInput("only a green job has a certificate beneficiary")
        return self

    def as_tuple(self) -> tuple:
        return (
            self.offer_id, self.model_id, self.max_price, self.min_collateral, self.deadline, self.challenge_window,
            self.green, self.beneficiary or ZERO_ADDRESS,
        )


class JobOrder(_Model):
    """One job asked of a channel's site, signed by the requester (JobChannels, EIP-712)."""

    channel_id: int = ChannelId
    nonce: int = Uint64  # the channel's orders count from 0, one after another
    model_id: bytes
    prompt_hash: bytes  # keccak256 of the prompt's UTF-8 bytes
    params: GenerationParams
    max_price: int = Field(gt=0, le=limits.MAX_PRICE)
    green: bool = False
    expiry: int = Uint64  # unix seconds; the site refuses the order after it

    _bytes = field_validator("model_id", "prompt_hash", mode="before")(_bytes32)


class Voucher(_Model):
    """What a requester owes a channel's site so far, cumulative, signed by the requester."""

    channel_id: int = ChannelId
    jobs: int = Field(ge=0, le=limits.UINT32_MAX)
    amount: int = Field(ge=0, le=limits.MAX_PRICE)
    energy_mwh: int = Uint64
    green_mwh: int = Uint64
    receipts_root: bytes = b"\x00" * 32

    _root = field_validator("receipts_root", mode="before")(_bytes32)

    @model_validator(mode="after")
    def _consistent(self) -> Voucher:
        if self.green_mwh > self.energy_mwh:
            raise InvalidInput("a voucher's green energy cannot exceed its energy")
        return self

    def as_tuple(self) -> tuple:
        return (self.channel_id, self.jobs, self.amount, self.energy_mwh, self.green_mwh, self.receipts_root)


class EnergyReceipt(_Model):
    """The energy one job used, as signed by the site's meter key (EIP-712)."""

    job_id: int = Field(gt=0)
    result_hash: bytes
    started_at: int = Uint64
    finished_at: int = Uint64
    energy_mwh: int = Uint64
    meter_start: int = Uint64
    meter_end: int = Uint64

    _result_bytes = field_validator("result_hash", mode="before")(_bytes32)

    @model_validator(mode="after")
    def _consistent(self) -> EnergyReceipt:
        if self.finished_at < self.started_at:
            raise InvalidReceipt("the receipt finishes before it starts")
        if self.meter_end - self.meter_start != self.energy_mwh:
            raise InvalidReceipt("meter_end - meter_start must equal energy_mwh")
        return self

    def as_tuple(self) -> tuple:
        return (
            self.job_id,
            self.result_hash,
            self.started_at,
            self.finished_at,
            self.energy_mwh,
            self.meter_start,
            self.meter_end,
        )


class Site(_Model):
    site_id: int
    owner: str
    meter: str
    pv_peak_watts: int
    battery_wh: int
    max_gpu_watts: int
    region: str
    status: SiteStatus
    meter_rotated_at: int


class Offer(_Model):
    offer_id: int
    provider: str
    site_id: int
    active: bool
    green: bool
    model_id: bytes
    max_width: int
    max_height: int
    max_steps: int
    base_price: int
    price_per_kwh: int
    collateral: int


class Job(_Model):
    job_id: int
    requester: str
    max_price: int
    state: JobState
    deadline: int
    challenge_window: int
    state_since: int
    offer_id: int
    energy_mwh: int
    green: bool
    beneficiary: str  # who gets its certificate if it is green (the requester unless named)
    request_hash: bytes


MAX_SECONDS_PER_MEGAPIXEL_STEP = 3_600.0  # beyond these a published speed is nonsense, not a slow site
MAX_WATTS = 100_000.0
MIN_METERED_MWH = 10  # the least metered energy a pipeline call's power draw is taken from


class Speed(_Model):
    """How fast a worker generates, from its recent pipeline calls (a moving average): what it
    publishes in `/health` and requesters estimate a job's time and energy from. The draw is
    taken only from calls metered at MIN_METERED_MWH or more (a reading in whole mWh says
    nothing below); None until one was."""

    seconds_per_megapixel_step: float = Field(gt=0, le=MAX_SECONDS_PER_MEGAPIXEL_STEP)
    watts: float | None = Field(None, ge=0, le=MAX_WATTS)

    @classmethod
    def measured(cls, seconds: float, work: int, energy_mwh: int, before: "Speed | None") -> "Speed":
        """After a pipeline call of `seconds` over `work` pixels × steps that metered
        `energy_mwh` (a mWh is 3.6 J), averaged with `before`."""
        per_step = seconds / (work / 1e6)
        watts = energy_mwh * 3.6 / seconds if energy_mwh >= MIN_METERED_MWH and seconds > 0 else None
        if before is not None:
            per_step = (before.seconds_per_megapixel_step + per_step) / 2
            watts = before.watts if watts is None else watts if before.watts is None else (before.watts + watts) / 2
        return cls(seconds_per_megapixel_step=min(max(round(per_step, 4), 1e-4), MAX_SECONDS_PER_MEGAPIXEL_STEP),
                   watts=None if watts is None else min(round(watts, 1), MAX_WATTS))


def job_price(base_price: int, price_per_kwh: int, energy_mwh: int, max_price: int) -> int:
    """What a job costs: base + energy x rate (rounded down), capped at max_price."""
    return min(base_price + energy_mwh * price_per_kwh // limits.MWH_PER_KWH, max_price)


def fee_of(price: int, fee_bps: int) -> int:
    """The protocol fee taken from a price (rounded down, in the provider's favour)."""
    return price * fee_bps // 10_000


def checksum(address: str) -> str:
    return to_checksum_address(address)


class Issuance(_Model):
    """One site-period of generation for which RECs were issued."""

    issuance_id: int
    site_id: int
    period_start: int
    period_end: int
    energy_mwh: int
    evidence_root: bytes
    issued_at: int


class Certificate(_Model):
    """A soulbound retirement certificate: who retired how much energy, for whom and why."""

    certificate_id: int
    beneficiary: str
    amount_mwh: int
    retired_at: int
    retired_by: str
    job_id: int
    beneficiary_name: str
    reason: str


MAX_BATCH = 64  # jobs in one pipeline call: the worker's bound, and the most an arbiter re-runs
MAX_THREADS = 256  # CPU threads a setup may declare


class ComputeSetup(_Model):
    """What decides an image's exact bytes besides the jobs in its pipeline call: the hardware,
    the numeric settings and the library versions. Two runs of one batch with equal setups
    give identical bytes; with different setups only nearly identical images."""

    device: str = Field(max_length=16)  # "cpu" or "cuda"
    device_name: str = Field(max_length=128)  # the CPU's or GPU's model name
    cpu_capability: str = Field(max_length=32)  # the vector kernels torch picked on this CPU (AVX2, AVX512, ...)
    dtype: str = Field(max_length=16)
    torch: str = Field(max_length=64)
    cuda: str | None = Field(None, max_length=32)
    diffusers: str = Field(max_length=64)
    transformers: str = Field(max_length=64)
    deterministic: bool  # torch's deterministic algorithms (and cuBLAS/cuDNN settings) on
    threads: int = Field(ge=1, le=MAX_THREADS)  # torch's CPU threads: reductions split by thread count


class Computation(_Model):
    """How a worker computed a delivered job, as it publishes it (`/receipts/{id}`): the jobs
    of the pipeline call in their order, and the setup. An arbiter rebuilds exactly that batch
    from the prompts and params on chain."""

    batch: tuple[int, ...] = Field(min_length=1, max_length=MAX_BATCH)
    setup: ComputeSetup

    @field_validator("batch")
    @classmethod
    def _distinct_job_ids(cls, batch: tuple[int, ...]) -> tuple[int, ...]:
        if any(not 0 < job_id < 2**256 for job_id in batch) or len(set(batch)) != len(batch):
            raise ValueError("a batch lists distinct positive job ids")
        return batch
