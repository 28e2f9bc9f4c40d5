"""The worker's configuration: one TOML file (see README, "Run a worker"), validated with
pydantic so a typo or an out-of-range value stops the worker with a clear message."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Literal

from eth_account import Account
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from degen.errors import InvalidInput, describe
from degen.models import MAX_BATCH, MAX_THREADS, model_id
from worker.policy import Policy


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChainConfig(_Section):
    rpc_url: str = "http://127.0.0.1:8545"
    network: str = "ethereum:local:foundry"  # names the deployment file to read
    deployments: Path = Path("deployments")
    confirmations: int = Field(0, ge=0, le=128)
    poll_interval_s: float = Field(1.0, gt=0, le=60)
    max_block_range: int = Field(2_000, ge=1, le=100_000)
    start_block: int | None = Field(None, ge=0)  # first start only; default: the deployment's block


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


def load_key(path: Path, role: str):
    try:
        return Account.from_key(path.expanduser().read_text().strip())
    except OSError as exc:
        raise InvalidInput(f"cannot read the {role} key file {path}: {exc.strerror}") from None
    except ValueError:
        raise InvalidInput(f"the {role} key file {path} does not hold a hex private key") from None


def load(path: Path) -> WorkerConfig:
    """Reads and validates `path`; relative paths in it are relative to its folder."""
    return _relative_to(read(path, WorkerConfig, "worker"), Path(path).resolve().parent)


def read(path: Path, schema: type[_Section], daemon: str):
    """A daemon's TOML config file validated against `schema`; every problem is an
    InvalidInput naming the file and the key."""
    try:
        raw = tomllib.loads(Path(path).read_text())
    except OSError as exc:
        raise InvalidInput(f"cannot read the {daemon} config {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{path} is not valid TOML: {exc}") from None
    try:
        return schema.model_validate(raw)
    except ValidationError as exc:
        raise InvalidInput(f"{path}: {describe(exc.errors())}") from None


def resolver(base: Path):
    """Makes a config path absolute: relative paths are relative to the config's folder."""
    def resolve(p: Path) -> Path:
        p = Path(p).expanduser()
        return p if p.is_absolute() else base / p

    return resolve


def model_sources(models: dict[str, str], base: Path) -> dict[str, str]:
    """Model sources that are folders next to the config, made absolute; hub ids kept."""
    return {name: str(base / src) if (base / src).exists() else src for name, src in models.items()}


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


def to_toml(config: WorkerConfig) -> str:
    """The config as TOML that `load` reads back (paths written as given)."""
    document = config.model_dump(mode="json", exclude_none=True)
    scalars = {key: value for key, value in document.items() if not isinstance(value, dict)}
    tables = {key: value for key, value in document.items() if isinstance(value, dict)}
    lines = [f"{key} = {_toml(value)}" for key, value in scalars.items()]
    for name, table in tables.items():
        lines += ["", f"[{name}]"] + [f"{_key(key)} = {_toml(value)}" for key, value in table.items()]
    return "\n".join(lines) + "\n"


def _key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    return json.dumps(str(value))  # a TOML basic string is a JSON string
