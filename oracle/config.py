"""The oracle's configuration: one TOML file (see README, "Run the oracle" and
`oracle.example.toml`), validated like the worker's."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from degen.models import MAX_THREADS, model_id
from oracle.issuance import Rules
from degen.daemon.config import ChainConfig, _Section, load_key, model_sources, read, resolver


class AccountConfig(_Section):
    key_file: Path  # hex private key of this oracle's member of the OracleCommittee


class IngestConfig(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8800, ge=0, le=65535)  # 0: any free port (tests)
    site_cache_s: float = Field(30.0, ge=0, le=3600)  # how long a site's registry record is reused


class IssuanceConfig(_Section):
    period_s: int = Field(3600, ge=300, le=31 * 86_400)
    grace_s: int = Field(600, ge=0, le=86_400)  # wait this long after a period for late samples
    min_samples: int = Field(2, ge=2)
    max_batch: int = Field(32, ge=1, le=128)  # site-periods per issue_batch transaction
    interval_s: float = Field(60.0, gt=0)  # how often closed periods are looked for

    def rules(self) -> Rules:
        return Rules(self.period_s, self.grace_s, self.min_samples)


class CommitteeConfig(_Section):
    # where the other members and the site agents reach this oracle's API; published as this
    # member's endpoint in the OracleCommittee at start (a member's own transaction)
    public_url: str | None = Field(None, pattern=r"^https?://.+", max_length=128)
    transmit_delay_s: float = Field(10.0, ge=0, le=3600)  # the next member in turn sends a complete report after this
    peer_timeout_s: float = Field(5.0, gt=0, le=60)  # a peer that answers slower is tried again next round


class KeeperConfig(_Section):
    gas_budget: int = Field(3_000_000, ge=0)  # gas the keeper may spend per round (0: keeper off)


class VerifyConfig(_Section):
    download_timeout_s: float = Field(20.0, gt=0, le=600)
    attempts: int = Field(5, ge=1, le=100)  # downloads tried before a delivery is flagged unreachable
    device: Literal["auto", "cpu", "cuda"] = "auto"  # dispute re-runs
    max_threads: int = Field(64, ge=1, le=MAX_THREADS)  # a re-run adopts the worker's declared CPU threads up to this


class OracleConfig(_Section):
    data_dir: Path
    database: str = ""  # SQLAlchemy URL; default: SQLite in data_dir
    chain: ChainConfig = ChainConfig()
    account: AccountConfig
    ingest: IngestConfig = IngestConfig()
    issuance: IssuanceConfig = IssuanceConfig()
    committee: CommitteeConfig = CommitteeConfig()
    keeper: KeeperConfig = KeeperConfig()
    verify: VerifyConfig = VerifyConfig()
    endpoints: dict[str, str] = {}  # site id -> worker URL, overriding the one the site published on chain
    models: dict[str, str] = {}  # model name -> local directory or hub id (dispute re-runs)

    @field_validator("endpoints")
    @classmethod
    def _site_ids(cls, endpoints: dict[str, str]) -> dict[str, str]:
        for site, url in endpoints.items():
            if not site.isdigit() or int(site) <= 0:
                raise ValueError(f"endpoint keys are site ids, got {site!r}")
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"site {site}'s endpoint {url!r} is not an http(s) URL")
        return endpoints

    def database_url(self) -> str:
        return self.database or f"sqlite:///{self.data_dir / 'oracle.sqlite'}"

    def endpoint(self, site_id: int) -> str | None:
        url = self.endpoints.get(str(site_id))
        return None if url is None else url.rstrip("/")

    def model_sources(self) -> dict[bytes, str]:
        return {model_id(name): source for name, source in self.models.items()}

    def account_key(self):
        return load_key(self.account.key_file, "oracle")


def load(path: Path) -> OracleConfig:
    """Reads and validates `path`; relative paths in it are relative to its folder."""
    config = read(path, OracleConfig, "oracle")
    base = Path(path).resolve().parent
    resolve = resolver(base)
    return config.model_copy(update={
        "data_dir": resolve(config.data_dir),
        "models": model_sources(config.models, base),
        "chain": config.chain.model_copy(update={"deployments": resolve(config.chain.deployments)}),
        "account": AccountConfig(key_file=resolve(config.account.key_file)),
    })
