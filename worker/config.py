"""The worker's configuration: one TOML file (see README, "Run a worker"), validated with
pydantic so a typo or an out-of-range value stops the worker with a clear message."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from degen.daemon.config import ChainConfig, _Section, load_key, model_sources, read, resolver, to_toml
from degen.errors import InvalidInput
from degen.models import MAX_BATCH, MAX_THREADS, model_id
from worker.policy import ChannelRules, Policy, RecBuying


class AccountConfig(_Section):
    provider_key_file: Path  # hex private key of the provider account (pays gas, holds the stake)
    meter_key_file: Path     # hex private key of the site's meter (signs EnergyReceipts)


class SiteConfig(_Section):
    site_id: int = Field(gt=0)
    modbus_host: str = "127.0.0.1"
    modbus_port: int = Field(502, ge=1, le=65535)
    # the Modbus unit ids to look for SunSpec on (inverters and batteries behind one gateway
    # often answer on several): every inverter and battery model on them counts
    modbus_unit_ids: list[Annotated[int, Field(ge=1, le=247)]] = Field([1], min_length=1, max_length=8)
    read_interval_s: float = Field(5.0, gt=0, le=3600)
    # a production meter (SunSpec 201-204, 211-214) whose exported energy the samples carry,
    # on this unit id (at this model address where the unit holds several meters)
    production_meter_unit_id: int | None = Field(None, ge=1, le=247)
    production_meter_address: int | None = Field(None, ge=0, le=65535)
    meter_tolerance_pct: float = Field(2.0, gt=0, le=100)  # the meter and the inverters may disagree this much

    @field_validator("modbus_unit_ids")
    @classmethod
    def _distinct_units(cls, units: list[int]) -> list[int]:
        if len(set(units)) != len(units):
            raise ValueError("modbus_unit_ids are distinct unit ids")
        return units

    @model_validator(mode="after")
    def _address_needs_a_meter(self) -> "SiteConfig":
        if self.production_meter_address is not None and self.production_meter_unit_id is None:
            raise ValueError("production_meter_address needs production_meter_unit_id")
        return self

    def agent(self):
        """The site agent that reads this site."""
        from worker.site_agent import SiteAgent

        return SiteAgent(self.modbus_host, self.modbus_port, tuple(self.modbus_unit_ids), meter_unit=self.production_meter_unit_id,
                         meter_address=self.production_meter_address, meter_tolerance_pct=self.meter_tolerance_pct)


class TelemetryConfig(_Section):
    committee: bool = True  # post to every member of the oracle committee, at the endpoints it publishes
    oracle_url: str | None = Field(None, pattern=r"^https?://")  # an oracle API to post to as well (or instead)
    interval_s: float = Field(300.0, gt=0, le=3600)  # the oracles expect a sample every 5 minutes

    @model_validator(mode="after")
    def _somewhere(self) -> "TelemetryConfig":
        if not self.committee and self.oracle_url is None:
            raise ValueError("telemetry goes to the committee's members (committee = true) or to an oracle_url")
        return self


class PolicyConfig(_Section):
    battery_reserve_pct: float = Field(30.0, ge=0, le=100)
    gpu_watts: float = Field(450.0, gt=0)
    deadline_slack_s: int = Field(120, ge=0)

    def policy(self) -> Policy:
        return Policy(self.battery_reserve_pct, self.gpu_watts, self.deadline_slack_s)


class GreenConfig(_Section):
    """Buying a green job's missing RECs from the EnergyPool through the GreenRouter."""

    max_premium_pct: float = Field(5.0, ge=0, le=100)  # the most above the pool's TWAP ...
    twap_window_s: int = Field(3600, ge=1, le=86_400)  # ... over this window (the pool keeps a day)
    max_akre_per_job: float = Field(5.0, gt=0, le=1e9)  # and never more than this for one job's RECs
    router_allowance_akre: float = Field(50.0, gt=0, le=1e9)  # the router's AKRE allowance, renewed when spent
    deadline_margin_s: int = Field(60, ge=0, le=86_400)  # give the job up with less time left

    @model_validator(mode="after")
    def _allowance_covers_a_job(self) -> "GreenConfig":
        if self.router_allowance_akre < self.max_akre_per_job:
            raise ValueError("router_allowance_akre must be at least max_akre_per_job")
        return self

    def rules(self) -> RecBuying:
        return RecBuying(self.max_premium_pct, self.twap_window_s, base_units(self.max_akre_per_job), self.deadline_margin_s)


class ChannelsConfig(_Section):
    """Instant jobs through JobChannels: which channels the worker serves and when it redeems
    their vouchers (docs/worker.md, "Channels")."""

    enabled: bool = True  # serve channel orders at the result endpoint
    min_deposit_akre: float = Field(1.0, ge=0, le=1e9)  # channels with a smaller deposit are refused
    redeem_threshold_akre: float = Field(20.0, gt=0, le=1e9)  # redeem once this much is owed on a channel ...
    redeem_interval_s: int = Field(3600, ge=1, le=30 * 86_400)  # ... or once a voucher waited this long
    max_unredeemed_akre: float = Field(50.0, gt=0, le=1e9)  # never serve a channel more than this unredeemed
    green_reserve_mwh: int = Field(2_000, ge=0, le=10**12)  # RECs kept beyond a channel's green energy owed
    rec_allowance_mwh: int = Field(1_000_000, gt=0, le=10**15)  # RECs JobChannels may retire, renewed when spent

    @model_validator(mode="after")
    def _threshold_below_limit(self) -> "ChannelsConfig":
        if self.redeem_threshold_akre > self.max_unredeemed_akre:
            raise ValueError("redeem_threshold_akre must be at most max_unredeemed_akre")
        return self

    def rules(self) -> ChannelRules:
        return ChannelRules(base_units(self.min_deposit_akre), base_units(self.redeem_threshold_akre),
                            self.redeem_interval_s, base_units(self.max_unredeemed_akre), self.green_reserve_mwh)


def base_units(akre: float) -> int:
    """AKRE as written in the config (a decimal) in base units, exactly as written."""
    return int(Decimal(str(akre)).scaleb(18))


class ComputeConfig(_Section):
    device: Literal["auto", "cpu", "cuda"] = "auto"
    max_batch: int = Field(4, ge=1, le=MAX_BATCH)
    batch_window_s: float = Field(0.25, ge=0, le=10)  # how long a batch may wait to fill
    threads: int | None = Field(None, ge=1, le=MAX_THREADS)  # torch CPU threads; default: one per physical core
    deterministic: bool = True  # torch's deterministic kernels (see docs/worker.md, "Reproducibility")
    meter: Literal["auto", "nvml", "rapl", "model"] = "auto"
    model_watts: float = Field(300.0, gt=0)  # the power-model estimate when no counter is readable


class ServerConfig(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8700, ge=0, le=65535)  # 0: any free port (tests)
    public_url: str | None = Field(None, pattern=r"^https?://.+", max_length=128)  # published on chain at start
    # Web pages (origins: scheme://host[:port]) whose scripts may GET results, receipts and
    # progress (CORS); none by default. `make run` names the page `degen web` serves.
    allowed_origins: list[Annotated[str, Field(pattern=r"^https?://[^/\s]+$", max_length=256)]] = Field([], max_length=32)


class WorkerConfig(_Section):
    data_dir: Path
    offers: list[int] = Field(min_length=1)
    models: dict[str, str] = Field(min_length=1)  # model name -> local directory or hub id
    chain: ChainConfig = ChainConfig()
    account: AccountConfig
    site: SiteConfig
    policy: PolicyConfig = PolicyConfig()
    compute: ComputeConfig = ComputeConfig()
    server: ServerConfig = ServerConfig()
    telemetry: TelemetryConfig | None = None  # signed meter samples to the oracle (off without it)
    green: GreenConfig | None = None  # buy missing RECs through the GreenRouter (off without it)
    channels: ChannelsConfig = ChannelsConfig()

    @field_validator("offers")
    @classmethod
    def _positive_offers(cls, offers: list[int]) -> list[int]:
        if any(offer <= 0 for offer in offers) or len(set(offers)) != len(offers):
            raise ValueError("offers are distinct positive offer ids")
        return offers

    def model_sources(self) -> dict[bytes, str]:
        """{on-chain model id: where to load it from}."""
        return {model_id(name): source for name, source in self.models.items()}

    def provider_account(self):
        return load_key(self.account.provider_key_file, "provider")

    def meter_account(self):
        return load_key(self.account.meter_key_file, "meter")


def load(path: Path) -> WorkerConfig:
    """Reads and validates `path`; relative paths in it are relative to its folder."""
    return _relative_to(read(path, WorkerConfig, "worker"), Path(path).resolve().parent)


def _relative_to(config: WorkerConfig, base: Path) -> WorkerConfig:
    resolve = resolver(base)
    models = model_sources(config.models, base)
    return config.model_copy(update={
        "data_dir": resolve(config.data_dir),
        "models": models,
        "chain": config.chain.model_copy(update={"deployments": resolve(config.chain.deployments)}),
        "account": AccountConfig(
            provider_key_file=resolve(config.account.provider_key_file),
            meter_key_file=resolve(config.account.meter_key_file),
        ),
    })


def write_for_site(path: Path, provider, site_id: int, meter: str, *, models: dict[str, str], network: str, rpc_url: str,
                   deployments_dir: Path, key_files: tuple[Path, Path], modbus: tuple[str, int], unit_ids: tuple[int, ...],
                   production_meter: int | None, oracle_url: str | None, public_url: str | None, port: int,
                   origins: list[str]) -> WorkerConfig:
    """Writes the config that runs `site_id` for `provider` (a degen.provider.Provider): its
    open offers, whose models `models` ({name: folder or hub id}) must all name, checked
    against the chain and validated before it is written. Paths are written relative to the
    config's folder where they lie below it. Refuses to overwrite a file."""
    if path.exists():
        raise InvalidInput(f"{path} exists: a config is never overwritten; name another --out, or move it away first")
    site = provider.site(site_id)
    if site.owner != provider.address:
        raise InvalidInput(f"site {site_id} is {site.owner}'s, not the provider key's account {provider.address}")
    if site.meter.lower() != meter.lower():
        raise InvalidInput(f"the meter key {meter} is not site {site_id}'s registered meter {site.meter}")
    offers = [offer for offer in provider.offers(site_id) if offer.active and offer.provider == provider.address]
    if not offers:
        raise InvalidInput(f"site {site_id} has no open offer of yours: degen site offer create {site_id} --model NAME …")
    named = {model_id(name): name for name in models}
    unserved = [offer for offer in offers if offer.model_id not in named]
    if unserved:
        raise InvalidInput("; ".join(f"offer {offer.offer_id} serves model 0x{offer.model_id.hex()[:12]}…" for offer in unserved)
                           + f", which no --model names ({', '.join(models)}): give the name it was created with")
    base = path.resolve().parent

    def written(where: Path | str) -> str:
        where = Path(where).expanduser().resolve()
        return str(where.relative_to(base)) if where.is_relative_to(base) else str(where)

    local = any(host in rpc_url for host in ("://127.0.0.1", "://localhost", "://[::1]"))
    config = WorkerConfig.model_validate({
        "data_dir": "worker-data",
        "offers": [offer.offer_id for offer in offers],
        "models": {name: written(source) if Path(source).expanduser().exists() else source for name, source in models.items()},
        "chain": {"rpc_url": rpc_url, "network": network, "deployments": written(deployments_dir), "confirmations": 0 if local else 5},
        "account": {"provider_key_file": written(key_files[0]), "meter_key_file": written(key_files[1])},
        "site": {"site_id": site_id, "modbus_host": modbus[0], "modbus_port": modbus[1], "modbus_unit_ids": list(unit_ids),
                 "production_meter_unit_id": production_meter},
        "policy": {"gpu_watts": float(site.max_gpu_watts)},
        "server": {"port": port, "public_url": public_url, "allowed_origins": origins},
        "telemetry": {"oracle_url": oracle_url},  # every committee member, and the oracle named
    })
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"# Written by `degen site config {site_id}`; worker.example.toml explains every key.\n\n" + to_toml(config))
    return load(path)
