"""`degen rec …`: RECs, issuances and retirement certificates, read back from the chain."""

from __future__ import annotations

from pathlib import Path

import click

from degen.cli.common import ADDRESS, SuggestingGroup, chain_options, connected, energy_text, time_text
from degen.models import Certificate, Issuance, Job


def describe_certificate(cert: Certificate, job: Job | None) -> str:
    """The lines `degen rec show` prints."""
    name = f" ({cert.beneficiary_name})" if cert.beneficiary_name else ""
    lines = [
        f"Retirement certificate #{cert.certificate_id} (soulbound)",
        f"  beneficiary  {cert.beneficiary}{name}",
        f"  energy       {energy_text(cert.amount_mwh)}",
        f"  retired at   {time_text(cert.retired_at)}",
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


def describe_issuance(issuance: Issuance, attested_by: list[str] | None = None) -> str:
    return "\n".join([
        f"Issuance #{issuance.issuance_id} for site {issuance.site_id}",
        f"  period         {time_text(issuance.period_start)} .. {time_text(issuance.period_end)}",
        f"  energy         {energy_text(issuance.energy_mwh)}",
        f"  evidence root  0x{issuance.evidence_root.hex()}",
        f"  issued at      {time_text(issuance.issued_at)}",
        "  attested by    " + (", ".join(attested_by) + " (the oracle committee's report)" if attested_by
                               else "no committee report: the issuer role issued it directly"),
    ])


@click.group(cls=SuggestingGroup)
def rec():
    """Renewable Energy Certificates: balances, issuances, retirement certificates.

    \b
    Examples:
      degen rec balance 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC
      degen rec show 1
      degen rec issuance 1
    """


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

    with connected(network, directory, read_only=True) as deployed:
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

    from degen.committee import issuance_attesters

    with connected(network, directory, read_only=True) as deployed:
        issued = contracts.issuance(deployed, issuance_id)
        click.echo(describe_issuance(issued, issuance_attesters(deployed, issuance_id)))


@rec.command()
@click.argument("address", type=ADDRESS)
@chain_options
def balance(address: str, network: str, directory: Path):
    """Print an account's RECs and certificates, and the REC supply.

    \b
    Example:
      degen rec balance 0x70997970C51812dc3A010C7d01b50e0d17dc79C8
    """
    with connected(network, directory, read_only=True) as deployed:
        rec_token, certificates = deployed.rec, deployed.certificate
        click.echo(address)
        click.echo(f"  RECs          {energy_text(rec_token.balanceOf(address))}")
        click.echo(f"  certificates  {certificates.balanceOf(address)}")
        click.echo(
            f"supply: issued {rec_token.total_issued():,} mWh, retired {rec_token.total_retired():,} mWh, "
            f"dissipated {rec_token.total_dissipated():,} mWh, outstanding {rec_token.totalSupply():,} mWh"
        )
