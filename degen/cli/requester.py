"""The requester's commands: `degen offers`, `degen generate`, `degen jobs`, `degen job show`,
`degen cancel`, `degen dispute`. Accounts are Ape accounts (`--account ALIAS`, or `TEST::N`
for a local test account; default from DEGEN_ACCOUNT)."""

from __future__ import annotations

import secrets
import signal
from collections.abc import Mapping
from pathlib import Path

import click

from degen import contracts, limits, requester, telemetry
from degen.cli.common import (ADDRESS, Interrupted, SuggestingGroup, TokenAmount, base_units, chain_options, connected,
                              energy_text, failures, time_text)
from degen.models import GenerationParams, Job, JobState, JobTerms, model_id
from degen.pool import amount_text
from degen.requester import akre


class ImageSide(click.ParamType):
    """An image side in pixels, as the market takes it."""

    name = "px"

    def convert(self, value, param, ctx):
        try:
            side = int(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a whole number of pixels", param, ctx)
        if side % 8 or not limits.MIN_IMAGE_SIDE <= side <= limits.MAX_IMAGE_SIDE:
            self.fail(f"{side} px: a side is a multiple of 8 from {limits.MIN_IMAGE_SIDE} to {limits.MAX_IMAGE_SIDE}", param, ctx)
        return side


IMAGE_SIDE = ImageSide()

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
    with connected(network, directory, read_only=True) as deployed:
        rows = [o for o in requester.active_offers(deployed.market) if model is None or o.model_id == model_id(model)]
        if not rows:
            click.echo("no active offers" + (f" for {model}" if model else ""))
            return
        click.echo(f"{'offer':>5}  {'provider':<42}  {'site':>4} {'region':<6} {'model':<14} {'max size':>9} {'steps':>5} "
                   f"{'base':>12} {'per kWh':>12}  green" + ("     battery  PV       reported" if oracle_url else ""))
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
    soc = latest["battery_soc_permille"]
    battery = "no battery" if soc == telemetry.NO_BATTERY else f"{soc / 10:>5.1f}%"
    return f"{battery:>10}  {latest['pv_watts']:>5,} W  {minutes} min ago"


@click.command()
@click.argument("prompt")
@click.option("--offer", "offer_id", type=click.IntRange(1), help="Send the job to this offer (default: the cheapest that fits).")
@click.option("--open", "open_job", is_flag=True, help="Post an open job any provider of --model may take.")
@click.option("--model", help="Model name (required with --open; filters offers otherwise).")
@click.option("--max-price", "max_units", default="10", show_default=True, type=TokenAmount("akre"), help="Escrow, AKRE (18 decimals at most).")
@click.option("--width", type=IMAGE_SIDE, help="Image width, px: a multiple of 8, 64 to 2048 [default: 512, see below].")
@click.option("--height", type=IMAGE_SIDE, help="Image height, px: a multiple of 8, 64 to 2048 [default: 512].")
@click.option("--steps", type=click.IntRange(1, limits.MAX_STEPS),
              help="Denoising steps: more is finer and slower (and costs more energy) [default: 20].")
@click.option("--guidance", default=7.5, show_default=True, type=click.FloatRange(0, 30),
              help="How closely the image follows the prompt (classifier-free guidance scale).")
@click.option("--seed", type=click.IntRange(0, 2**64 - 1), help="Noise seed: the same seed and prompt give the same image. Default: random.")
@click.option("--green", is_flag=True, help="Only green energy: RECs are retired for you at delivery.")
@click.option("--beneficiary", type=ADDRESS, help="With --green: who gets the retirement certificate (default: you).")
@click.option("--minutes", default=60, show_default=True, type=click.IntRange(2, 30 * 24 * 60), help="Deadline from now.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Where to save the PNG (default: job-<id>.png).")
@click.option("--instant", is_flag=True,
              help="Through a channel with the offer's site: no transaction per job (opens or reuses your channel).")
@click.option("--deposit", "deposit_units", type=TokenAmount("akre"),
              help="With --instant: AKRE to deposit when a channel is opened or too low [default: 5 x --max-price].")
@account_option
@chain_options
@failures
def generate(prompt, offer_id, open_job, model, max_units, width, height, steps, guidance, seed, green, beneficiary, minutes,
             out, instant, deposit_units, alias, network, directory):
    """Buy one image: post the job, follow it, download and check the result, settle.

    Escrows up to --max-price (with an EIP-2612 permit in the same transaction when the
    market has no allowance yet), waits for a provider to accept and deliver, downloads the
    image from the provider's published endpoint with your wallet's signature, checks its
    sha256 against the chain, settles, and prints the energy, the payment and (for --green)
    the retirement certificate.

    Before posting it estimates the job's time, energy and price from the speed the site
    publishes, and refuses a job that would not finish before --minutes. Without --width,
    --height and --steps a job is 512x512 at 20 steps, or smaller where the site's speed says
    that would take more than about 2 minutes.

    With --instant the job goes through your channel with the offer's site (`degen channel`):
    no transaction, the site generates at once, and after checking the image against its
    meter-signed receipt your wallet signs a voucher for what you owe the site so far; the
    site redeems vouchers in bulk. A channel is opened (or topped up) with --deposit first
    when you have none with room for --max-price.

    \b
    Example:
      degen generate "A quick brown fox jumps over the lazy dog" --green --account TEST::1
      degen generate "A fox at dawn" --instant --account TEST::1
    """
    if instant and open_job:
        raise click.UsageError("--instant goes to one site's offer: it takes no --open")
    if open_job and (offer_id or not model):
        raise click.UsageError("--open takes --model and no --offer")
    if deposit_units is not None and not instant:
        raise click.UsageError("--deposit takes --instant")
    if beneficiary and not green:
        raise click.UsageError("--beneficiary takes --green: only a green job has a certificate")
    sized = width is not None or height is not None or steps is not None
    seed = secrets.randbits(63) if seed is None else seed

    def params_of(w: int, h: int, s: int) -> GenerationParams:
        return GenerationParams(width=w, height=h, steps=s, guidance_x100=round(guidance * 100), seed=seed)

    params = params_of(width or requester.DEFAULT_SIDE, height or requester.DEFAULT_SIDE, steps or requester.DEFAULT_STEPS)
    wanted_model = model_id(model) if model else None
    with requester.reserved_output(out), connected(network, directory) as deployed:
        account = load_account(alias)
        market = deployed.market
        if open_job:
            terms_offer, terms_model = 0, wanted_model
        else:
            offer = requester.choose_offer(market, params if sized else params_of(64, 64, 1), offer_id=offer_id,
                                           model_id=wanted_model, green=green, max_price=max_units)
            terms_offer, terms_model = offer.offer_id, offer.model_id
            click.echo(f"offer {offer.offer_id} (site {offer.site_id}): base {akre(offer.base_price)} + "
                       f"{akre(offer.price_per_kwh)}/kWh{', green' if offer.green else ''}")
            speed = requester.site_speed(deployed, offer.site_id)
            if not sized:
                params = params_of(*requester.default_shape(offer, speed))
                if (params.width, params.steps) != (requester.DEFAULT_SIDE, requester.DEFAULT_STEPS):
                    click.echo(f"  size {params.width}x{params.height}, {params.steps} steps: what this site's measured speed "
                               f"makes in about {requester.DEFAULT_BUDGET_S // 60} minutes (--width, --height, --steps choose)")
            _check_estimate(None if speed is None else requester.estimate(offer, params, max_units, speed), offer, params,
                            minutes)
        if instant:
            return _instant_job(deployed, account, offer, prompt, params, max_units, green=green, beneficiary=beneficiary,
                                deposit=deposit_units or 5 * max_units, out=out)
        terms = JobTerms(offer_id=terms_offer, model_id=terms_model, max_price=max_units,
                         deadline=int(market.chain_manager.pending_timestamp) + minutes * 60, green=green,
                         beneficiary=beneficiary)
        job_id, block = requester.post_job(deployed, account, prompt, params, terms)
        click.echo(f"job {job_id} posted: {params.width}x{params.height}, {params.steps} steps, seed {params.seed}, "
                   f"up to {akre(terms.max_price)} in escrow")
        ape_handler = signal.signal(signal.SIGINT, signal.default_int_handler)  # Ape's exits at once, saying nothing
        term_handler = signal.signal(signal.SIGTERM, _interrupt)  # `kill` says what is left open, as Ctrl-C does
        try:
            requester.follow(deployed, job_id, block, on_change=_progress, timeout_s=minutes * 60,
                             while_accepted=_StepPrinter(deployed, job_id))
        except KeyboardInterrupt as stop:
            raise Interrupted(_left_open(contracts.job(market, job_id), alias), getattr(stop, "signum", signal.SIGINT)) from None
        finally:
            signal.signal(signal.SIGINT, ape_handler)
            signal.signal(signal.SIGTERM, term_handler)
        found = requester.delivery(deployed, job_id, block)
        png = requester.download(deployed, account, job_id, found)
        target = out or Path(f"job-{job_id}.png")
        try:
            path = requester.save(png, target)
        except OSError as exc:
            raise requester.RequesterError(
                f"job {job_id} is delivered and its image checked, but it could not be saved to {target} ({exc.strerror or exc}); "
                f"nothing is lost: `degen fetch {job_id} --account {alias} --out OTHER.png` downloads it again and "
                f"`degen settle {job_id} --account {alias}` pays the provider (or it settles by itself after the challenge "
                "window)") from None
        click.echo(f"downloaded {len(png):,} bytes to {path}: sha256 {found.result_hash.hex()[:16]}… matches the chain")
        settled = requester.settle(market, account, job_id)
        certificate = requester.certificate_for(deployed, job_id, found.block) if green else None
        click.echo(summary(job_id, path, found, settled, certificate, terms.beneficiary))


def _instant_job(deployed, account, offer, prompt: str, params: GenerationParams, max_price: int, *, green: bool,
                 beneficiary: str | None, deposit: int, out: Path | None) -> None:
    """`generate --instant`: the job through the requester's channel with the offer's site."""
    from degen import channels, instant

    site = instant.site_of(deployed, offer)
    usable = [state for state in channels.opened_by(deployed, account.address)
              if state.site_id == offer.site_id and not state.closes_at and not state.closed]
    if usable:
        state = usable[-1]
        click.echo(f"channel {state.channel_id} with site {offer.site_id}: {akre(state.deposit)} deposited")
    else:
        channel_id = channels.open_channel(deployed, account, offer.site_id, deposit, beneficiary)
        state = channels.state(deployed, channel_id)
        click.echo(f"channel {channel_id} opened with site {offer.site_id}: {akre(deposit)} deposited")
    channel = instant.SiteChannel(site, state.channel_id, account.address, lambda typed: requester.sign_typed(account, typed))
    tab, _ = channel.tab()
    if state.deposit - tab.amount < max_price:
        deposited = channels.top_up(deployed, account, state.channel_id, deposit)
        click.echo(f"  topped up by {akre(deposit)}: {akre(deposited)} deposited, {akre(tab.amount)} owed so far")
    steps = _InstantSteps(site.endpoint)
    with steps:
        served = channel.order(prompt, params, max_price, green=green, now=int(deployed.market.chain_manager.pending_timestamp),
                               on_job_id=steps.follow)
    job_hex = f"0x{served.job_id:064x}"
    target = out or Path(f"job-{job_hex[:18]}.png")
    path = requester.save(served.png, target)
    receipt, voucher = served.job.receipt, served.voucher
    click.echo("\n".join([
        f"job {job_hex[:18]}… served on channel {state.channel_id} (order {served.job.order.nonce})",
        f"  image        {path} (sha256 {receipt.result_hash.hex()}, checked against the meter-signed receipt)",
        f"  energy       {energy_text(receipt.energy_mwh)}, site {offer.site_id}, "
        f"{receipt.finished_at - receipt.started_at} s of compute",
        f"  price        {akre(served.job.price)} by offer {served.job.offer_id}'s rule",
        f"  voucher      signed for {voucher.jobs} job{'s' if voucher.jobs != 1 else ''}: {akre(voucher.amount)} owed in all, "
        f"{energy_text(voucher.energy_mwh)}" + (f" ({energy_text(voucher.green_mwh)} green, whose RECs the site retires "
                                                  "in your channel's name when it redeems)" if voucher.green_mwh else "")
        + "; the site redeems it on chain",
    ]))


class _InstantSteps:
    """While an instant job is generated: prints the denoising steps the site's worker reports."""

    def __init__(self, endpoint: str):
        import threading

        self.endpoint, self.job_id, self.done = endpoint, None, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def follow(self, job_id: int) -> None:
        self.job_id = job_id
        self.thread.start()

    def _run(self) -> None:
        shown = None
        while not self.done.wait(0.5):
            found = requester.progress(self.endpoint, self.job_id)
            if found is not None and found.state == "generating" and found.step != shown:
                shown = found.step
                click.echo(f"    step {found.step}/{found.steps}" + (f", ~{found.eta_s:.0f} s left" if found.eta_s else ""))

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.done.set()


def _check_estimate(guess: requester.Estimate | None, offer, params: GenerationParams, minutes: int) -> None:
    """Prints what the job is likely to take at the offer's site; refuses one that would not
    finish before its deadline."""
    if guess is None:
        click.echo("  no estimate: the site publishes no measured speed yet")
        return
    took = duration_text(guess.seconds)
    energy = "its draw not measured yet" if guess.energy_mwh is None else f"~{guess.energy_mwh:,} mWh"
    price = f"about {akre(guess.price)}" if guess.energy_mwh is not None else f"at least {akre(guess.price)}"
    click.echo(f"  estimate: ~{took} of compute at site {offer.site_id} (its recent jobs), {energy}, {price}")
    if guess.seconds > minutes * 60:
        raise requester.RequesterError(
            f"site {offer.site_id} needs about {took} for {params.width}x{params.height} at {params.steps} steps, longer than "
            f"the {minutes} minutes the job may take: ask for less (--width, --height, --steps) or more time (--minutes)")


class _StepPrinter:
    """While a job is accepted: prints each new denoising step its provider's worker reports
    at the site's published endpoint, why it waits where it does, and once, why no progress
    can be shown (no endpoint published, or none answering)."""

    def __init__(self, deployed, job_id: int):
        self.deployed, self.job_id = deployed, job_id
        self.endpoint: str | None = None
        self.step = None
        self.said: set[str] = set()

    def __call__(self, job: Job) -> None:
        if self.endpoint is None:
            self.endpoint = self.deployed.registry.endpoint_of(contracts.offer(self.deployed.market, job.offer_id).site_id)
        if not self.endpoint:
            return self._once("    the provider's site publishes no result endpoint: its progress cannot be shown, nor the image "
                              "downloaded, until it does")
        found = requester.progress(self.endpoint, self.job_id)
        if found is None:
            return self._once(f"    the provider's endpoint {self.endpoint} does not answer about this job (yet)")
        if found.waiting:
            return self._once(f"    waiting: {found.waiting}")
        if found.state != "generating" or found.step in (0, self.step):
            return
        self.step = found.step
        left = f", ~{duration_text(found.eta_s)} left" if found.eta_s is not None else ""
        click.echo(f"    step {found.step}/{found.steps}{left}")

    def _once(self, line: str) -> None:
        if line not in self.said:
            self.said.add(line)
            click.echo(line)


def duration_text(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def _interrupt(signum, frame):
    """SIGTERM as Ctrl-C, remembering which it was."""
    stop = KeyboardInterrupt()
    stop.signum = signum
    raise stop


def _left_open(job: Job, alias: str) -> str:
    """What an interrupted `generate` leaves on chain, and the command that deals with it."""
    held = f"job {job.job_id} is {job.state.name.lower()} on chain with up to {akre(job.max_price)} in escrow"
    if job.state == JobState.OPEN:
        return f"interrupted: {held}; `degen cancel {job.job_id} --account {alias}` takes it back while no provider has accepted it"
    return (f"interrupted: {held}; the provider may still deliver: `degen job show {job.job_id}` follows it, "
            f"`degen fetch {job.job_id} --account {alias}` downloads the image once delivered, and it settles by itself "
            "after the challenge window")


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
        mine = requester.my_jobs(deployed, account.address)
        if not mine:
            click.echo(f"no jobs from {account.address}")
            return
        click.echo(f"{'job':>5}  {'state':<10} {'offer':>5}  {'escrow (max)':>14}  {'energy':>12}  green")
        for job in mine:
            click.echo(f"{job.job_id:>5}  {job.state.name.lower():<10} {job.offer_id or 'open':>5}  {akre(job.max_price):>14}  "
                       f"{f'{job.energy_mwh:,} mWh' if job.energy_mwh else '-':>12}  {'yes' if job.green else 'no'}")


@click.command()
@click.argument("job_id", type=click.IntRange(1))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Where to save the PNG (default: job-<id>.png).")
@account_option
@chain_options
@failures
def fetch(job_id, out, alias, network, directory):
    """Download a delivered job's image again (the requester's, signed for with your wallet)
    and check it against the hash delivered on chain.

    \b
    Example:
      degen fetch 1 --account TEST::1 --out fox.png
    """
    path = requester.check_writable(out or Path(f"job-{job_id}.png"))
    with connected(network, directory) as deployed:
        found = requester.delivery(deployed, job_id, 0)
        png = requester.download(deployed, load_account(alias), job_id, found)
        requester.save(png, path)
        click.echo(f"downloaded {len(png):,} bytes to {path}: sha256 {found.result_hash.hex()[:16]}… matches the chain")


@click.command()
@click.argument("address", type=ADDRESS, required=False)
@click.option("--account", "alias", envvar="DEGEN_ACCOUNT", help="Whose balances, by account (instead of ADDRESS).")
@chain_options
@failures
def balance(address, alias, network, directory):
    """Print an address's AKRE, provider stake, RECs, retirement certificates and LP tokens.

    \b
    Examples:
      degen balance --account TEST::1
      degen balance 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC
    """
    if (address is None) == (alias is None):
        raise click.UsageError("name an ADDRESS or an --account")
    with connected(network, directory, read_only=address is not None) as deployed:
        address = address or load_account(alias).address
        free, locked = deployed.market.stake_of(address)
        click.echo(address)
        click.echo(f"  AKRE          {akre(deployed.token.balanceOf(address))}")
        click.echo(f"  stake         {akre(free)} free, {akre(locked)} locked as collateral")
        click.echo(f"  RECs          {energy_text(deployed.rec.balanceOf(address))}")
        click.echo(f"  certificates  {deployed.certificate.balanceOf(address)}")
        click.echo(f"  pool LP       {amount_text(deployed.pool.balanceOf(address), 'lp')}")


@click.group(cls=SuggestingGroup)
def job():
    """One job.

    \b
    Example:
      degen job show 1
    """


@job.command("show")
@click.argument("job_id", type=click.IntRange(1))
@chain_options
@failures
def show_job(job_id, network, directory):
    """Print a job: its state, prompt, terms, provider, result hash, payment and any dispute.

    \b
    Example:
      degen job show 1
    """
    from degen.committee import attesters

    with connected(network, directory, read_only=True) as deployed:
        history = requester.job_history(deployed, job_id)
        signers = attesters(deployed, "verdict", job_id) if "JobResolved" in history else None
        click.echo(describe_job(contracts.job(deployed.market, job_id), history, signers))


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
def settle(job_id, alias, network, directory):
    """Settle your delivered job: pay the provider now instead of waiting out the challenge
    window (after checking the image: `degen fetch`).

    \b
    Example:
      degen settle 3 --account TEST::1
    """
    with connected(network, directory) as deployed:
        settled = requester.settle(deployed.market, load_account(alias), job_id)
        click.echo(f"job {job_id} settled: paid {akre(settled.price)} ({akre(settled.price - settled.fee)} to the provider, "
                   f"{akre(settled.fee)} protocol fee), {akre(settled.refund)} refunded")


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



def describe_job(job: Job, history: dict[str, dict], verdict_signers: list[str] | None = None) -> str:
    """What `degen job show` prints: the job as stored, and what its events tell (the prompt,
    who took it, the result's hash, what was paid, a dispute's outcome and who decided it)."""
    created, accepted = history.get("JobCreated", {}), history.get("JobAccepted")
    delivered, settled = history.get("JobDelivered"), history.get("JobSettled")
    lines = [f"Job #{job.job_id}: {job.state.name.lower()} since {time_text(job.state_since)}",
             f"  requester    {job.requester}"]
    if created:
        p = created["params"]
        p = p if isinstance(p, Mapping) else dict(zip(GenerationParams.model_fields, p))
        lines.append(f"  prompt       {created['prompt']!r} ({p['width']}x{p['height']}, {p['steps']} steps, "
                     f"guidance {p['guidance_x100'] / 100:g}, seed {p['seed']})")
    lines += [f"  offer        {job.offer_id or 'open'}{'  (green)' if job.green else ''}",
              *([f"  provider     {accepted['provider']} (collateral {akre(accepted['collateral'])})"] if accepted else []),
              f"  escrow       up to {akre(job.max_price)}",
              f"  deadline     {time_text(job.deadline)}; challenge window {job.challenge_window} s",
              f"  energy       {energy_text(job.energy_mwh) if job.energy_mwh else '-'}"]
    if delivered:
        lines.append(f"  result       sha256 {bytes(delivered['result_hash']).hex()} (site {delivered['site_id']}; "
                     f"download it again with `degen fetch {job.job_id}`)")
    if "JobDisputed" in history:
        bond = akre(history["JobDisputed"]["bond"])
        resolved = history.get("JobResolved")
        if resolved is None:
            lines.append(f"  dispute      bond {bond} escrowed; the arbiter has not decided yet")
        elif resolved["provider_wins"]:
            lines.append(f"  dispute      lost: the arbiter found the result correct; the {bond} bond went to the provider")
        else:
            refunded = history.get("JobRefunded", {})
            lines.append(f"  dispute      won: {akre(refunded.get('refund', 0))} back to the requester, with the {bond} bond "
                         f"and the provider's {akre(refunded.get('slashed_collateral', 0))} collateral")
        if resolved is not None:
            lines.append("  verdict      " + (f"signed by the committee members {', '.join(verdict_signers)}" if verdict_signers
                                             else f"by the arbiter {resolved['arbiter']}"))
    if settled:
        lines.append(f"  paid         {akre(settled['price'])} ({akre(settled['fee'])} protocol fee), "
                     f"{akre(settled['refund'])} refunded")
    for name, what in (("JobCancelled", "cancelled"), ("JobExpired", "expired")):
        if name in history:
            lines.append(f"  {what:<12} {akre(history[name]['refund'])} refunded")
    if job.green:
        lines.append(f"  certificate  to {job.beneficiary}")
    return "\n".join(lines)


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("amount")
@click.argument("token", type=click.Choice(["akre", "rec", "native"], case_sensitive=False))
@click.argument("to", type=ADDRESS)
@account_option
@chain_options
@failures
def send(amount, token, to, alias, network, directory):
    """Send AMOUNT of AKRE, RECs or the chain's native token (what gas is paid in) to TO.

    \b
    Examples:
      degen send 200 akre 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC --account TEST::0
      degen send 1 native 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC --account TEST::0
    """
    token = token.lower()
    units = base_units(amount, token)
    with connected(network, directory) as deployed:
        account = load_account(alias)
        sent = requester.send(deployed, account, token, units, to)
        click.echo(f"sent {sent} to {to}")


COMMANDS = [offers, generate, jobs, job, fetch, balance, send, cancel, settle, dispute]
