"""The requester's commands: `degen offers`, `degen generate`, `degen jobs`, `degen job show`,
`degen cancel`, `degen dispute`. Accounts are Ape accounts (`--account ALIAS`, or `TEST::N`
for a local test account; default from DEGEN_ACCOUNT)."""

from __future__ import annotations

import secrets
from pathlib import Path

import click

from degen import requester
from degen.cli_common import ADDRESS, chain_options, connected, energy_text, failures, time_text
from degen.models import GenerationParams, Job, JobState, JobTerms, model_id
from degen.requester import akre

account_option = click.option(
    "--account", "alias", envvar="DEGEN_ACCOUNT", required=True,
    help="Ape account alias (see `ape accounts list`), or TEST::N for a local test account. Env: DEGEN_ACCOUNT.",
)


def load_account(alias: str):
    from ape import accounts

    if alias.upper().startswith("TEST::"):
        index, count = alias.split("::", 1)[1], len(accounts.test_accounts)
        if not index.isdigit() or int(index) >= count:
            raise click.ClickException(f"{alias} is not a test account: the local chain has TEST::0 to TEST::{count - 1}")
        return accounts.test_accounts[int(index)]
    try:
        return accounts.load(alias)
    except Exception:  # noqa: BLE001 - Ape raises its own error for an unknown alias
        raise click.ClickException(f"no Ape account called {alias!r}; `ape accounts list` shows yours") from None


@click.command()
@click.option("--model", help="Only offers for this model name (its id is keccak256 of the name).")
@click.option("--oracle", "oracle_url", envvar="DEGEN_ORACLE_URL", help="Oracle API URL: adds each site's last reported battery and PV.")
@chain_options
def offers(model: str | None, oracle_url: str | None, network: str, directory: Path):
    """List the active offers: provider, site region, model, size, steps, prices, green (and
    with --oracle, the battery state and PV power the site last reported).

    \b
    Example:
      degen offers --model tiny-sd --oracle http://127.0.0.1:8800
    """
    with connected(network, directory) as deployed:
        rows = [o for o in requester.active_offers(deployed.market) if model is None or o.model_id == model_id(model)]
        if not rows:
            click.echo("no active offers" + (f" for {model}" if model else ""))
            return
        click.echo(f"{'offer':>5}  {'provider':<42}  {'site':>4} {'region':<6} {'model':<14} {'max size':>9} {'steps':>5} "
                   f"{'base':>12} {'per kWh':>12}  green" + ("  battery    PV       reported" if oracle_url else ""))
        for o in rows:
            site = deployed.registry.site(o.site_id)
            name = model if model else "0x" + o.model_id.hex()[:12]
            line = (f"{o.offer_id:>5}  {o.provider:<42}  {o.site_id:>4} {site.region:<6} {name:<14} "
                    f"{f'{o.max_width}x{o.max_height}':>9} {o.max_steps:>5} {akre(o.base_price):>12} "
                    f"{akre(o.price_per_kwh):>12}  {'yes' if o.green else 'no ':<5}")
            if oracle_url:
                line += "  " + _site_state(oracle_url, o.site_id, int(deployed.market.chain_manager.pending_timestamp))
            click.echo(line.rstrip())


def _site_state(oracle_url: str, site_id: int, now: int) -> str:
    """'65.5%  3,000 W  4 min ago' from the oracle's last sample of the site, or why not."""
    import requests

    try:
        response = requests.get(f"{oracle_url.rstrip('/')}/sites/{site_id}", timeout=10)
    except requests.RequestException:
        return "oracle unreachable"
    if response.status_code != 200:
        return "not reported"
    latest = response.json()["latest"]
    minutes = max(0, now - latest["timestamp"]) // 60
    return f"{latest['battery_soc_permille'] / 10:>5.1f}%  {latest['pv_watts']:>5,} W  {minutes} min ago"


@click.command()
@click.argument("prompt")
@click.option("--offer", "offer_id", type=click.IntRange(1), help="Send the job to this offer (default: the cheapest that fits).")
@click.option("--open", "open_job", is_flag=True, help="Post an open job any provider of --model may take.")
@click.option("--model", help="Model name (required with --open; filters offers otherwise).")
@click.option("--max-price", default=10.0, show_default=True, type=click.FloatRange(min=0, min_open=True), help="Escrow, AKRE.")
@click.option("--width", default=512, show_default=True, type=int)
@click.option("--height", default=512, show_default=True, type=int)
@click.option("--steps", default=20, show_default=True, type=int)
@click.option("--guidance", default=7.5, show_default=True, type=click.FloatRange(0, 30))
@click.option("--seed", type=click.IntRange(0, 2**64 - 1), help="Default: random.")
@click.option("--green", is_flag=True, help="Only green energy: RECs are retired for you at delivery.")
@click.option("--beneficiary", type=ADDRESS, help="With --green: who gets the retirement certificate (default: you).")
@click.option("--minutes", default=60, show_default=True, type=click.IntRange(2, 30 * 24 * 60), help="Deadline from now.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Where to save the PNG (default: job-<id>.png).")
@account_option
@chain_options
@failures
def generate(prompt, offer_id, open_job, model, max_price, width, height, steps, guidance, seed, green, beneficiary, minutes,
             out, alias, network, directory):
    """Buy one image: post the job, follow it, download and check the result, settle.

    Escrows up to --max-price (with an EIP-2612 permit in the same transaction when the
    market has no allowance yet), waits for a provider to accept and deliver, downloads the
    image from the provider's published endpoint with your wallet's signature, checks its
    sha256 against the chain, settles, and prints the energy, the payment and (for --green)
    the retirement certificate.

    \b
    Example:
      degen generate "A quick brown fox jumps over the lazy dog" --green --account TEST::1
    """
    if open_job and (offer_id or not model):
        raise click.UsageError("--open takes --model and no --offer")
    if beneficiary and not green:
        raise click.UsageError("--beneficiary takes --green: only a green job has a certificate")
    params = GenerationParams(width=width, height=height, steps=steps, guidance_x100=round(guidance * 100),
                              seed=secrets.randbits(63) if seed is None else seed)
    wanted_model = model_id(model) if model else None
    requester.check_writable(out or Path("job-1.png"))
    with connected(network, directory) as deployed:
        account = load_account(alias)
        market = deployed.market
        if open_job:
            terms_offer, terms_model = 0, wanted_model
        else:
            offer = requester.choose_offer(market, params, offer_id=offer_id, model_id=wanted_model, green=green,
                                           max_price=round(max_price * requester.AKRE))
            terms_offer, terms_model = offer.offer_id, offer.model_id
            click.echo(f"offer {offer.offer_id} (site {offer.site_id}): base {akre(offer.base_price)} + "
                       f"{akre(offer.price_per_kwh)}/kWh{', green' if offer.green else ''}")
        terms = JobTerms(offer_id=terms_offer, model_id=terms_model, max_price=round(max_price * requester.AKRE),
                         deadline=int(market.chain_manager.pending_timestamp) + minutes * 60, green=green,
                         beneficiary=beneficiary)
        job_id, block = requester.post_job(deployed, account, prompt, params, terms)
        click.echo(f"job {job_id} posted: {width}x{height}, {steps} steps, seed {params.seed}, up to {akre(terms.max_price)} in escrow")
        requester.follow(market, job_id, on_change=_progress, timeout_s=minutes * 60)
        found = requester.delivery(market, job_id, block)
        png = requester.download(deployed, account, job_id, found)
        path = requester.save(png, out or Path(f"job-{job_id}.png"))
        click.echo(f"downloaded {len(png):,} bytes to {path}: sha256 {found.result_hash.hex()[:16]}… matches the chain")
        settled = requester.settle(market, account, job_id)
        certificate = requester.certificate_for(deployed, job_id, found.block) if green else None
        click.echo(summary(job_id, path, found, settled, certificate, terms.beneficiary))


def _progress(job) -> None:
    messages = {
        JobState.OPEN: "waiting for a provider to accept…",
        JobState.ACCEPTED: f"accepted (offer {job.offer_id}): generating…",
        JobState.DELIVERED: f"delivered: {job.energy_mwh:,} mWh metered",
    }
    click.echo(f"  {messages.get(job.state, job.state.name.lower())}")


def summary(job_id: int, path: Path, found: requester.Delivery, settled: requester.Settlement, certificate: int | None,
            beneficiary: str | None = None) -> str:
    lines = [
        f"job {job_id} settled",
        f"  image        {path} (sha256 {found.result_hash.hex()})",
        f"  energy       {energy_text(found.energy_mwh)}, site {found.site_id}, {found.finished_at - found.started_at} s of compute",
        f"  paid         {akre(settled.price)}: {akre(requester.provider_share(settled))} to {found.provider}, "
        f"{akre(settled.fee)} protocol fee",
        f"  refunded     {akre(settled.refund)}",
    ]
    if certificate is not None:
        whose = f"the name of {beneficiary}" if beneficiary else "your name"
        lines.append(f"  certificate  #{certificate}: {energy_text(found.energy_mwh)} retired in {whose} (degen rec show {certificate})")
    return "\n".join(lines)


@click.command()
@account_option
@chain_options
@failures
def jobs(alias, network, directory):
    """List your jobs and their states.

    \b
    Example:
      degen jobs --account TEST::1
    """
    with connected(network, directory) as deployed:
        account = load_account(alias)
        mine = requester.my_jobs(deployed.market, account.address)
        if not mine:
            click.echo(f"no jobs from {account.address}")
        for job in mine:
            click.echo(f"{job.job_id:>5}  {job.state.name.lower():<10} offer {job.offer_id or '-':<4} "
                       f"max {akre(job.max_price):<14} {job.energy_mwh:,} mWh{'  green' if job.green else ''}")


@click.group()
def job():
    """One job."""


@job.command("show")
@click.argument("job_id", type=click.IntRange(1))
@chain_options
@failures
def show_job(job_id, network, directory):
    """Print a job's state, terms and delivery.

    \b
    Example:
      degen job show 1
    """
    from degen import contracts

    with connected(network, directory) as deployed:
        click.echo(describe_job(contracts.job(deployed.market, job_id)))


@click.command()
@click.argument("job_id", type=click.IntRange(1))
@account_option
@chain_options
@failures
def cancel(job_id, alias, network, directory):
    """Cancel your open (not yet accepted) job and get the escrow back.

    \b
    Example:
      degen cancel 3 --account TEST::1
    """
    with connected(network, directory) as deployed:
        refund = requester.cancel(deployed.market, load_account(alias), job_id)
        click.echo(f"job {job_id} cancelled; {akre(refund)} refunded")


@click.command()
@click.argument("job_id", type=click.IntRange(1))
@account_option
@chain_options
@failures
def dispute(job_id, alias, network, directory):
    """Dispute a delivered job within its challenge window (a bond is escrowed; the arbiter
    re-runs the job and decides).

    \b
    Example:
      degen dispute 3 --account TEST::1
    """
    with connected(network, directory) as deployed:
        bond = requester.dispute(deployed, load_account(alias), job_id)
        click.echo(f"job {job_id} disputed with a bond of {akre(bond)}; the arbiter decides")



def describe_job(job: Job) -> str:
    return "\n".join([
        f"Job #{job.job_id}: {job.state.name.lower()} since {time_text(job.state_since)}",
        f"  requester    {job.requester}",
        f"  offer        {job.offer_id or 'open'}{'  (green)' if job.green else ''}",
        f"  escrow       up to {akre(job.max_price)}",
        f"  deadline     {time_text(job.deadline)}; challenge window {job.challenge_window} s",
        f"  energy       {energy_text(job.energy_mwh) if job.energy_mwh else '-'}",
        *([f"  certificate  to {job.beneficiary}"] if job.green else []),
    ])


COMMANDS = [offers, generate, jobs, job, cancel, dispute]
