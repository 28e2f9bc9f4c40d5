"""The daemons' configuration files: TOML validated with pydantic, so a typo or an
out-of-range value stops a daemon with a message naming the file and the key; the `[chain]`
section both daemons share; key files; paths relative to the config's folder."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

from eth_account import Account
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from degen.chain.heads import HEAD_POLL_S
from degen.errors import InvalidInput, describe


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChainConfig(_Section):
    rpc_url: str = "http://127.0.0.1:8545"
    network: str = "ethereum:local:foundry"  # names the deployment file to read
    deployments: Path = Path("deployments")
    confirmations: int = Field(0, ge=0, le=128)
    head_poll_s: float = Field(HEAD_POLL_S, gt=0, le=60)  # how often the head is asked: each new block starts a round at once
    poll_interval_s: float = Field(1.0, gt=0, le=60)  # a round at least this often when no block comes
    max_block_range: int = Field(2_000, ge=1, le=100_000)
    start_block: int | None = Field(None, ge=0)  # first start only; default: the deployment's block
    # a transaction not mined after this many blocks is sent again at its nonce with fees 25 % higher...
    replace_after_blocks: int = Field(3, ge=1, le=1_000)
    max_fee_gwei: float = Field(500.0, gt=0, le=1_000_000)  # ...never above this fee cap per gas


def load_key(path: Path, role: str):
    try:
        return Account.from_key(path.expanduser().read_text().strip())
    except OSError as exc:
        raise InvalidInput(f"cannot read the {role} key file {path}: {exc.strerror}") from None
    except ValueError:
        raise InvalidInput(f"the {role} key file {path} does not hold a hex private key") from None


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


def to_toml(config: BaseModel) -> str:
    """A daemon config as TOML that its `load` reads back (paths written as given)."""
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
