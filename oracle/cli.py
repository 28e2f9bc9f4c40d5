"""`degen oracle …`: the network operator's commands."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from degen.cli.common import SuggestingGroup, chain_options, connected, time_text
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
    client, deployment, rec, committee = _connect(config)
    return Oracle(config, client, rec, committee, start_block=deployment.block)


def _connect(config):
    """The oracle's MarketClient, its deployment, and web3 contracts of RECToken and the
    OracleCommittee."""
    from degen.daemon.run import connect
    from degen.contracts import abi_of

    client, deployment, project = connect(config.chain, config.account_key())
    rec = client.web3.eth.contract(address=deployment.rec_token, abi=abi_of(project.RECToken.contract_type))
    committee = client.web3.eth.contract(address=deployment.committee, abi=abi_of(project.OracleCommittee.contract_type))
    return client, deployment, rec, committee


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
        client, deployment, rec, _ = _connect(config)
        issued = _issuance_of(client, rec, deployment.block, site_id, period_start)
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


def _issuance_of(client, rec, first_block: int, site_id: int, period_start: int) -> dict | None:
    """The Issued event of a site's period, from the chain (the deployment's blocks)."""
    for event in client.logs(rec.events.Issued, first_block, site_id=site_id):
        if event["args"]["period_start"] == period_start:
            return {**event["args"], "evidence_root": bytes(event["args"]["evidence_root"])}
    return None


@oracle.command()
@config_option
@click.argument("site_id", type=click.IntRange(1))
@click.option("--suspend", is_flag=True, help="Attest a suspension instead (its accepts, deliveries and samples are refused).")
def activate(config_path: Path, site_id: int, suspend: bool):
    """Attest, as this committee member, that a site may be activated (or must be suspended)
    after checking its installation: signs the committee's site report with exactly the meter
    key and limits the registry holds, keeps it and sends it to every other member. The site
    changes once `threshold` members attested; their daemons transmit it.

    \b
    Examples:
      degen oracle activate --config oracle.toml 2
      degen oracle activate --config oracle.toml 2 --suspend
    """
    from degen.models import SiteStatus
    from oracle import config as oracle_config
    from degen.committee import CommitteeView
    from oracle.committee import Member, send_signature
    from oracle.store import engine_for

    try:
        config = oracle_config.load(config_path)
        client, _, _, committee = _connect(config)
        site = client.site(site_id)
        if int(site["owner"], 16) == 0:
            raise click.ClickException(f"there is no site {site_id}")
        battery = f"a {site['battery_wh']:,} Wh battery" if site["battery_wh"] else "no battery"
        click.echo(f"site {site_id} of {site['owner']}: {site['pv_peak_watts']:,} W PV, {battery}, GPU up to "
                   f"{site['max_gpu_watts']:,} W, {site['region']}, meter key {site['meter']}, "
                   f"{SiteStatus(site['status']).name.lower()}")
        view = CommitteeView(committee, client.retry)
        state = view.state()
        if client.account.address not in state.members:
            raise click.ClickException(f"{client.account.address} is not a member of the committee {committee.address}")
        config.data_dir.mkdir(parents=True, exist_ok=True)
        member = Member(engine_for(config.database_url()), view, client.account, chain_id=client.chain_id)
        report = member.report("site", {
            "config": state.config, "site_id": site_id, "nonce": client.call(committee.functions.site_nonce(site_id)),
            "active": not suspend, "meter": site["meter"], "pv_peak_watts": site["pv_peak_watts"],
            "battery_wh": site["battery_wh"], "max_gpu_watts": site["max_gpu_watts"]})
        member.sign(report)
        signature = member.signatures("0x" + report.digest.hex())[client.account.address]
        answers = {peer: send_signature(state.endpoints.get(peer), report, signature, config.committee.peer_timeout_s)
                   for peer in state.members if peer != client.account.address}
    except (DegenError, ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    what = "suspension" if suspend else "activation"
    held = member.signatures("0x" + report.digest.hex())
    click.echo(f"signed the {what} of site {site_id} (configuration {state.config}); the committee needs {state.threshold} "
               f"of its {len(state.members)} members, this one holds {len(held)}: {', '.join(sorted(held))}")
    for peer, answer in answers.items():
        click.echo(f"  sent to {peer}: {answer}")
    if len(held) < state.threshold:
        click.echo("The members' daemons transmit the report once enough members attested it.")
        return
    wanted = SiteStatus.SUSPENDED if suspend else SiteStatus.ACTIVE
    deadline = time.monotonic() + 60
    while client.site(site_id)["status"] != wanted:  # a member's daemon transmits it (by the schedule)
        if time.monotonic() > deadline:
            raise click.ClickException(f"enough members attested site {site_id}, but no daemon transmitted the report in 60 s: "
                                       "are the members' daemons running?")
        time.sleep(0.5)
    click.echo(f"site {site_id} is {'suspended' if suspend else 'active'}")


@oracle.command()
@chain_options
def committee(network: str, directory: Path):
    """Show the oracle committee: its members with their bonds and endpoints, the threshold,
    the configuration count, and the changes waiting in the timelock with when each may run.

    \b
    Example:
      degen oracle committee
    """
    from degen.chain.readonly import published_abis
    from degen.committee import pending_changes
    from degen.requester import akre

    with connected(network, directory, read_only=True) as deployed:
        c, timelock = deployed.committee, deployed.timelock
        members = c.members()
        click.echo(f"OracleCommittee {c.address}: {c.threshold()} of {len(members)} members sign each report "
                   f"(configuration {c.config_count()}); bonds of at least {akre(c.min_bond())}, locked "
                   f"{c.BOND_LOCK() // 86_400} days after a member leaves")
        for member in members:
            click.echo(f"  {member}  bond {akre(c.bond_of(member))}  {c.endpoint_of(member) or '(no endpoint)'}")
        click.echo(f"admin: the AdminTimelock {timelock.address}, delay {timelock.get_minimum_delay():,} s")
        waiting = pending_changes(deployed, published_abis())
        if not waiting:
            click.echo("  no change is waiting")
        for change in waiting:
            click.echo(f"  waiting: {change['target']}.{change['call']}, may run from {time_text(change['ready_at'])}")


