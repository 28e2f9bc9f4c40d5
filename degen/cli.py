"""The `degen` command line. Requester commands (offers, generate, jobs, ...) arrive with
the end-to-end story; this module holds the entry point, the deployment view and the
`degen rec` commands that read RECs, issuances and retirement certificates."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import click

from degen import __version__, deployments
from degen.errors import DegenError
from degen.models import Certificate, Issuance, Job

MWH_PER_REC = 1_000_000  # 1 REC = 1 kWh = 10^6 mWh (6 decimals)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="degen")
def main():
    """DeGEN: buy and sell green AI compute on-chain.

    \b
    Example:
      degen deployment
      degen rec show 1 --network ethereum:local:foundry
    """


def chain_options(command):
    """--network and --deployments for commands that read the contracts."""
    command = click.option(
        "--deployments", "directory", type=click.Path(path_type=Path), default=deployments.DEFAULT_DIR,
        show_default=True, help="Folder of deployment files.",
    )(command)
    return click.option(
        "--network", default="ethereum:local:foundry", show_default=True,
        help="Ape network choice; its deployment file names the contracts.",
    )(command)


@contextmanager
def connected(network: str, directory: Path):
    """Connects to `network` through Ape and yields the deployment's contracts; SDK errors
    become one-line CLI errors."""
    try:
        record = deployments.load(network, directory)
        from ape import networks, project

        from degen.contracts import at

        with networks.parse_network_choice(network):
            yield at(project, record)
    except (DegenError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@chain_options
def deployment(network: str, directory: Path):
    """Show the contract addresses deployed on a network (no connection needed).

    \b
    Example:
      degen deployment --network ethereum:sepolia
    """
    try:
        record = deployments.load(network, directory)
    except (DegenError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    width = max(len(name) for name in record.model_fields)
    for name, value in record.model_dump().items():
        click.echo(f"{name:<{width}}  {value}")


def _energy(mwh: int) -> str:
    return f"{mwh:,} mWh ({mwh / MWH_PER_REC:g} REC = {mwh / MWH_PER_REC:g} kWh)"


def _time(seconds: int) -> str:
    return f"{datetime.fromtimestamp(seconds, timezone.utc):%Y-%m-%d %H:%M:%S} UTC"


def describe_certificate(cert: Certificate, job: Job | None) -> str:
    """The lines `degen rec show` prints."""
    name = f" ({cert.beneficiary_name})" if cert.beneficiary_name else ""
    lines = [
        f"Retirement certificate #{cert.certificate_id} (soulbound)",
        f"  beneficiary  {cert.beneficiary}{name}",
        f"  energy       {_energy(cert.amount_mwh)}",
        f"  retired at   {_time(cert.retired_at)}",
        f"  retired by   {cert.retired_by}",
        f"  reason       {cert.reason or '-'}",
    ]
    if job is None:
        lines.append("  offsets      no job")
    else:
        lines.append(
            f"  offsets      job #{job.job_id}: {job.state.name.lower()}, requester {job.requester}, "
            f"{job.energy_mwh:,} mWh metered{', green' if job.green else ''}"
        )
    return "\n".join(lines)


def describe_issuance(issuance: Issuance) -> str:
    return "\n".join([
        f"Issuance #{issuance.issuance_id} for site {issuance.site_id}",
        f"  period         {_time(issuance.period_start)} .. {_time(issuance.period_end)}",
        f"  energy         {_energy(issuance.energy_mwh)}",
        f"  evidence root  0x{issuance.evidence_root.hex()}",
        f"  issued at      {_time(issuance.issued_at)}",
    ])


@main.group()
def rec():
    """Renewable Energy Certificates: balances, issuances, retirement certificates."""


@rec.command()
@click.argument("certificate_id", type=click.IntRange(1))
@chain_options
def show(certificate_id: int, network: str, directory: Path):
    """Print a retirement certificate and the job it offsets.

    \b
    Example:
      degen rec show 1 --network ethereum:local:foundry
    """
    from degen import contracts

    with connected(network, directory) as deployed:
        cert = contracts.certificate(deployed.certificate, certificate_id)
        job = contracts.job(deployed.market, cert.job_id) if cert.job_id else None
        click.echo(describe_certificate(cert, job))


@rec.command()
@click.argument("issuance_id", type=click.IntRange(1))
@chain_options
def issuance(issuance_id: int, network: str, directory: Path):
    """Print an issuance record: site, period, energy and evidence root.

    \b
    Example:
      degen rec issuance 1 --network ethereum:local:foundry
    """
    from degen import contracts

    with connected(network, directory) as deployed:
        click.echo(describe_issuance(contracts.issuance(deployed.rec, issuance_id)))


@rec.command()
@click.argument("address")
@chain_options
def balance(address: str, network: str, directory: Path):
    """Print an account's RECs and certificates, and the REC supply.

    \b
    Example:
      degen rec balance 0x70997970C51812dc3A010C7d01b50e0d17dc79C8
    """
    with connected(network, directory) as deployed:
        rec_token, certificates = deployed.rec, deployed.certificate
        click.echo(address)
        click.echo(f"  RECs          {_energy(rec_token.balanceOf(address))}")
        click.echo(f"  certificates  {certificates.balanceOf(address)}")
        click.echo(
            f"supply: issued {rec_token.total_issued():,} mWh, retired {rec_token.total_retired():,} mWh, "
            f"outstanding {rec_token.totalSupply():,} mWh"
        )


def _register_process_commands() -> None:
    """The daemons' commands live with their processes."""
    from oracle.cli import oracle
    from worker.cli import site, worker

    main.add_command(site)
    main.add_command(worker)
    main.add_command(oracle)


_register_process_commands()

if __name__ == "__main__":
    main()
