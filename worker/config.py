"""The worker's configuration: one TOML file (see README, "Run a worker"), validated with
pydantic so a typo or an out-of-range value stops the worker with a clear message."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from degen.daemon.config import ChainConfig, _Section, load_key, model_sources, read, resolver
from degen.models import MAX_BATCH, MAX_THREADS, model_id
from worker.policy import Policy


class AccountConfig(_Section):
    provider_key_file: Path  # hex private key of the provider account (pays gas, holds the stake)
    meter_key_file: Path     # hex private key of the site's meter (signs EnergyReceipts)


class SiteConfig(_Section):
    site_id: int = Field(gt=0)
    modbus_host: str = "127.0.0.1"
    modbus_port: int = Field(502, ge=1, le=65535)
    modbus_device_id: int = Field(1, ge=0, le=255)
    read_interval_s: float = Field(5.0, gt=0, le=3600)


class TelemetryConfig(_Section):
    oracle_url: str = Field(pattern=r"^https?://")  # the oracle's API (POST /samples)
    interval_s: float = Field(300.0, gt=0, le=3600)  # the oracle expects a sample every 5 minutes


class PolicyConfig(_Section):
    battery_reserve_pct: float = Field(30.0, ge=0, le=100)
    gpu_watts: float = Field(450.0, gt=0)
    deadline_slack_s: int = Field(120, ge=0)

    def policy(self) -> Policy:
        return Policy(self.battery_reserve_pct, self.gpu_watts, self.deadline_slack_s)


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
