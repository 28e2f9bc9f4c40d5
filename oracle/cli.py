"""`degen oracle …`: the network operator's commands."""

from __future__ import annotations

import json
from pathlib import Path

import click

from degen.cli.common import SuggestingGroup
from degen.errors import DegenError

config_option = click.option(
    "--config", "config_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
    help="The oracle's TOML config (see README, 'Run the oracle').",
)


@click.group(cls=SuggestingGroup)
def oracle():
    """The operator's daemon: telemetry, RECs, verification, disputes, keeper.

    \b
    Example:
      degen oracle run --config oracle.toml
    """


@oracle.command()
@config_option
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False))
def run(config_path: Path, log_level: str):
    """Ingest signed meter samples, issue RECs, verify deliveries, decide disputes, keep jobs moving.

    Runs until interrupted (Ctrl-C or SIGTERM finish the current step first). A restart, even
    after kill -9, never issues a period or resolves a job twice.

    \b
    Example:
      degen oracle run --config oracle.toml
    """
    from degen.daemon.run import run_daemon

    run_daemon(lambda: build_oracle(config_path), log_level)


def build_oracle(config_path: Path):
    """The oracle a config describes, connected to its chain (nothing started yet)."""
    from oracle import config as oracle_config
    from oracle.daemon import Oracle

    config = oracle_config.load(config_path)
    client, deployment, rec = _connect(config)
    return Oracle(config, client, rec, start_block=deployment.block)


def _connect(config):
    from degen.daemon.run import connect
    from degen.contracts import abi_of

    client, deployment, project = connect(config.chain, config.account_key())
    rec = client.web3.eth.contract(address=deployment.rec_token, abi=abi_of(project.RECToken.contract_type))
    return client, deployment, rec


@oracle.command()
@config_option
@click.argument("site_id", type=click.IntRange(1))
@click.argument("period_start", type=click.IntRange(0))
@click.argument("index", type=click.IntRange(0))
def proof(config_path: Path, site_id: int, period_start: int, index: int):
    """Print the Merkle proof of sample INDEX of SITE_ID's issued period starting at
    PERIOD_START (unix seconds), and check it against the root recorded on chain.

    The output is JSON: the sample and its signature, its leaf, the sibling hashes, the root
    and whether it matches the issuance's evidence root (exit status 1 when it does not).

    \b
    Example:
      degen oracle proof --config oracle.toml 1 1763812800 0
    """
    from oracle import config as oracle_config
    from oracle import issuance, merkle
    from oracle.store import SampleStore, engine_for

    try:
        config = oracle_config.load(config_path)
        client, _, rec = _connect(config)
        issued = _issuance_of(rec, site_id, period_start)
        if issued is None:
            raise click.ClickException(f"site {site_id} has no issuance for a period starting at {period_start}")
        samples = issuance.in_period(SampleStore(engine_for(config.database_url())).between(site_id, period_start, issued["period_end"]),
                                     period_start, issued["period_end"])
        leaves = issuance.evidence(samples, client.chain_id, client.registry.address)
        siblings = merkle.proof(leaves, index)
    except (DegenError, ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    sample, signature = samples[index]
    on_chain = issued["evidence_root"]
    verified = merkle.verify(leaves[index], siblings, on_chain)
    click.echo(json.dumps({
        "site_id": site_id, "period": [period_start, issued["period_end"]], "issuance_id": issued["issuance_id"],
        "index": index, "samples": len(samples), "sample": sample.model_dump(), "signature": "0x" + signature.hex(),
        "leaf": "0x" + leaves[index].hex(), "proof": ["0x" + node.hex() for node in siblings],
        "root": "0x" + merkle.root(leaves).hex(), "evidence_root": "0x" + on_chain.hex(), "verified": verified,
    }, indent=2))
    if not verified:
        raise SystemExit(1)


def _issuance_of(rec, site_id: int, period_start: int) -> dict | None:
    """The Issued event of a site's period, from the chain."""
    for event in rec.events.Issued().get_logs(from_block=0, argument_filters={"site_id": site_id}):
        if event["args"]["period_start"] == period_start:
            return {**event["args"], "evidence_root": bytes(event["args"]["evidence_root"])}
    return None


@oracle.command()
@config_option
@click.argument("site_id", type=click.IntRange(1))
@click.option("--suspend", is_flag=True, help="Suspend an active site instead (its accepts, deliveries and samples are refused).")
def activate(config_path: Path, site_id: int, suspend: bool):
    """Activate a pending (or suspended) site once its installation is checked: the registrar's
    decision, with the oracle's account. Prints what the site declared first.

    \b
    Examples:
      degen oracle activate --config oracle.toml 2
      degen oracle activate --config oracle.toml 2 --suspend
    """
    from degen.chain.market import TxRejected
    from degen.models import SiteStatus
    from oracle import config as oracle_config

    try:
        client, _, _ = _connect(oracle_config.load(config_path))
        site = client.site(site_id)
        if int(site["owner"], 16) == 0:
            raise click.ClickException(f"there is no site {site_id}")
        battery = f"a {site['battery_wh']:,} Wh battery" if site["battery_wh"] else "no battery"
        click.echo(f"site {site_id} of {site['owner']}: {site['pv_peak_watts']:,} W PV, {battery}, GPU up to "
                   f"{site['max_gpu_watts']:,} W, {site['region']}, meter key {site['meter']}, "
                   f"{SiteStatus(site['status']).name.lower()}")
        client.send("suspend" if suspend else "activate", site_id, to=client.registry)
    except TxRejected as exc:
        raise click.ClickException(f"the registry refused: {exc.reason}") from None
    except (DegenError, ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"site {site_id} {'suspended' if suspend else 'active'}")
