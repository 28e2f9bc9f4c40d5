"""`degen site …`: the DER owner's path from nothing to a first job served — keys, registering
the site, stake, offers and what the site still needs. They sign with the provider key file
the worker uses (`--key-file`, default keys/provider.key) and talk to the node over plain
JSON-RPC. The commands that read or play the hardware (`scan`, `simulate`) and the one that
writes the worker's config (`config`) come from the worker package."""

from __future__ import annotations

from pathlib import Path

import click

from degen.cli.common import SuggestingGroup, base_units, chain_options, failures, node_and_deployment
from degen.pool import amount_text

key_file_option = click.option(
    "--key-file", type=click.Path(dir_okay=False, path_type=Path), default=Path("keys/provider.key"), show_default=True,
    envvar="DEGEN_PROVIDER_KEY", help="The provider account's key file (the worker's [account] provider_key_file). "
                                      "Env: DEGEN_PROVIDER_KEY.")


def owner_options(command):
    """--key-file, --network and --deployments, and SDK errors as one sentence: what every
    command that signs as the DER owner takes."""
    return key_file_option(chain_options(failures(command)))


def provider_of(network: str, directory: Path | None, key_file: Path):
    """The DER owner's account on the deployment whose contracts are on the node `network` names."""
    from web3 import HTTPProvider, Web3

    from degen.chain.readonly import published_abis
    from degen.daemon.config import load_key
    from degen.provider import Provider

    url, deployment = node_and_deployment(network, directory)
    account = load_key(key_file, "provider")
    return Provider(Web3(HTTPProvider(url, request_kwargs={"timeout": 30})), deployment, account, published_abis())


def _akre(base: int) -> str:
    return amount_text(base, "akre")


@click.group(cls=SuggestingGroup)
def site():
    """The DER owner's commands: keys, your site on chain, stake, offers, your inverter.

    \b
    Example, from nothing to a first job served (docs/der-owners.md):
      degen site keys                       # a provider account and a meter key
      degen site scan 192.168.1.20          # what your inverter and battery answer
      degen site register --pv-kw 10 --battery-kwh 20 --gpu-watts 450 --country BR
      degen site status                     # what the site still needs
      degen site stake 100
      degen site offer create 1 --model sd-turbo --base-price 2 --per-kwh 30 --collateral 5 --green
      degen site config 1 --model sd-turbo=stabilityai/sd-turbo --modbus 192.168.1.20
      degen worker run --config worker.toml
    """


@site.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=Path("keys"), show_default=True,
              help="Folder for provider.key and meter.key.")
@failures
def keys(directory: Path):
    """Create the provider account and the site's meter key (no prompt).

    Each is a new private key in a file of its own, readable by you only: provider.key (the
    account that owns the site, pays gas, holds the stake and is paid; the worker signs its
    transactions with it) and meter.key (signs the energy receipts and meter samples; keep it
    on the machine next to the GPU). Existing files are never overwritten.

    \b
    Example:
      degen site keys --dir keys
    """
    from degen.provider import create_keys

    created = create_keys(directory)
    (provider_file, provider), (meter_file, meter) = created["provider"], created["meter"]
    click.echo(f"provider account  {provider}  ({provider_file})")
    click.echo(f"meter key         {meter}  ({meter_file})")
    click.echo("Each file holds a raw private key with no passphrase, readable by you only (mode 600): back them up offline; "
               "whoever reads provider.key can spend what the account holds.")
    click.echo(f"Next: send {provider} gas money (the chain's native token) and AKRE for the stake, then register the site:")
    click.echo("  degen site register --pv-kw 10 --battery-kwh 20 --gpu-watts 450 --country BR")


@site.command()
@click.option("--meter", "meter_key", type=click.Path(dir_okay=False, path_type=Path),
              help="Print the address of this meter key file instead.")
@key_file_option
@failures
def address(meter_key, key_file):
    """Print the provider account's address (or with --meter, the meter key's): what to send
    gas money and AKRE to.

    \b
    Examples:
      degen site address
      degen send 200 akre $(degen site address) --account TEST::0
    """
    from degen.daemon.config import load_key

    click.echo(load_key(meter_key, "meter").address if meter_key else load_key(key_file, "provider").address)


@site.command()
@click.option("--pv-kw", type=float, required=True, help="The PV's peak power, kW (the inverters' AC rating, e.g. 10).")
@click.option("--battery-kwh", type=float, required=True, help="The battery's capacity, kWh (0: none, a PV-only site).")
@click.option("--gpu-watts", type=float, required=True, help="The most the GPU draws, W (e.g. 450): receipts may not claim more.")
@click.option("--country", required=True, help="Where the site is: ISO 3166 code, e.g. BR, or BR-SP with the region.")
@click.option("--meter-key", type=click.Path(dir_okay=False, path_type=Path), default=Path("keys/meter.key"), show_default=True,
              help="The meter key file (the worker's [account] meter_key_file); its address is registered.")
@click.option("--endpoint", help="Where buyers download results: your worker's public URL (the worker can publish it at start).")
@owner_options
def register(pv_kw, battery_kwh, gpu_watts, country, meter_key, endpoint, key_file, network, directory):
    """Register your site: its PV, battery, GPU and country, and the meter key that signs for it.

    The site starts pending: the operator activates it after checking the installation.

    \b
    Example:
      degen site register --pv-kw 10 --battery-kwh 20 --gpu-watts 450 --country BR
    """
    from degen.daemon.config import load_key
    from degen.provider import SiteSpec, check_endpoint

    spec = SiteSpec.of(pv_kw, battery_kwh, gpu_watts, country)
    meter = load_key(meter_key, "meter").address
    if endpoint is not None:
        check_endpoint(endpoint)
    provider = provider_of(network, directory, key_file)
    site_id = provider.register(spec, meter, endpoint)
    battery = f"a {spec.battery_wh:,} Wh battery" if spec.battery_wh else "no battery"
    click.echo(f"site {site_id} registered (pending): {spec.pv_peak_watts:,} W of PV, {battery}, a GPU drawing up to "
               f"{spec.max_gpu_watts:,} W, in {spec.region}; meter key {meter}" + (f"; endpoint {endpoint}" if endpoint else ""))
    click.echo(f"Next: the operator activates it (send them site id {site_id}, your meter key's address and evidence of the "
               f"installation); meanwhile stake AKRE: degen site stake 100. `degen site status {site_id}` says what is left.")


@site.command()
@click.argument("site_id", type=click.IntRange(1), required=False)
@owner_options
def status(site_id, key_file, network, directory):
    """Show your site (or every site of the account): its record, your balances, stake and
    offers, and what it still needs before the worker can serve a job.

    \b
    Example:
      degen site status 1
    """
    provider = provider_of(network, directory, key_file)
    sites = [site_id] if site_id is not None else provider.my_sites()
    free, locked = provider.stake()
    click.echo(f"account {provider.address}: {amount_text(provider.gas_balance(), 'native')} (gas), "
               f"{_akre(provider.akre_balance())}, stake {_akre(free)} free + {_akre(locked)} locked, "
               f"{amount_text(provider.rec_balance(), 'rec')}")
    if not sites:
        click.echo("no site registered by this account yet: degen site register --pv-kw … --battery-kwh … --gpu-watts … --country …")
        return
    for number in sites:
        record = provider.site(number)
        endpoint = provider.endpoint(number)
        battery = f"{record.battery_wh:,} Wh battery" if record.battery_wh else "no battery"
        click.echo(f"site {number}: {record.status.name.lower()}, {record.pv_peak_watts:,} W PV, {battery}, GPU up to "
                   f"{record.max_gpu_watts:,} W, {record.region}, meter {record.meter}, endpoint {endpoint or '(none)'}")
        if record.owner != provider.address:
            click.echo(f"  owned by {record.owner}, not this account")
            continue
        for offer in provider.offers(number):
            click.echo(f"  offer {offer.offer_id}: {'open' if offer.active else 'closed'}, model 0x{offer.model_id.hex()[:12]}…, "
                       f"up to {offer.max_width}x{offer.max_height} at {offer.max_steps} steps, {_akre(offer.base_price)} + "
                       f"{_akre(offer.price_per_kwh)}/kWh, collateral {_akre(offer.collateral)}{', green' if offer.green else ''}")
        needs = provider.needs(record)
        if needs:
            click.echo("  still needs:")
            for need in needs:
                click.echo(f"    - {need}")
        else:
            click.echo(f"  ready: write the worker's config (degen site config {number} …) and start it "
                       "(degen worker run --config worker.toml)")


@site.command()
@click.argument("site_id", type=click.IntRange(1))
@click.argument("url")
@owner_options
def endpoint(site_id, url, key_file, network, directory):
    """Publish where buyers download your site's results (your worker's public URL).

    The worker does this itself at start when its [server] public_url is set.

    \b
    Example:
      degen site endpoint 1 https://gpu.example.org:8700
    """
    provider_of(network, directory, key_file).set_endpoint(site_id, url)
    click.echo(f"site {site_id} publishes {url}")


@site.command(context_settings={"ignore_unknown_options": True})
@click.argument("amount")
@owner_options
def stake(amount, key_file, network, directory):
    """Deposit AMOUNT AKRE of stake (approving the market for it first, never more).

    Each accepted job locks its offer's collateral from the free stake until it settles.

    \b
    Example:
      degen site stake 100
    """
    provider = provider_of(network, directory, key_file)
    for done in provider.deposit(base_units(amount, "akre")):
        click.echo(done)
    free, locked = provider.stake()
    click.echo(f"stake: {_akre(free)} free, {_akre(locked)} locked")


@site.command(context_settings={"ignore_unknown_options": True})
@click.argument("amount")
@owner_options
def unstake(amount, key_file, network, directory):
    """Withdraw AMOUNT AKRE of your free stake (collateral locked by accepted jobs stays).

    \b
    Example:
      degen site unstake 50
    """
    provider = provider_of(network, directory, key_file)
    provider.withdraw(base_units(amount, "akre"))
    free, locked = provider.stake()
    click.echo(f"withdrew {amount} AKRE; stake: {_akre(free)} free, {_akre(locked)} locked")


@site.group(cls=SuggestingGroup)
def offer():
    """Your offers: what you sell, up to which size, at what price.

    \b
    Examples:
      degen site offer create 1 --model sd-turbo --base-price 2 --per-kwh 30 --collateral 5 --green
      degen site offer close 3
    """


@offer.command()
@click.argument("site_id", type=click.IntRange(1))
@click.option("--model", "model_name", required=True, help="The model's name, as requesters ask for it and [models] names it.")
@click.option("--max-size", default=1024, show_default=True, type=int, help="Largest image side, px (64 to 2048, a multiple of 8).")
@click.option("--max-steps", default=50, show_default=True, type=int, help="Most denoising steps a job may ask for (1 to 500).")
@click.option("--base-price", required=True, help="AKRE per job.")
@click.option("--per-kwh", required=True, help="AKRE per kWh metered.")
@click.option("--collateral", required=True, help="AKRE locked from your stake per accepted job (slashed if it expires undelivered).")
@click.option("--green", is_flag=True, help="Serve green jobs: each delivery retires RECs equal to its energy.")
@click.option("--rec-allowance", default="1000", show_default=True,
              help="With --green: the most REC (kWh) the market may retire from your account.")
@owner_options
def create(site_id, model_name, max_size, max_steps, base_price, per_kwh, collateral, green, rec_allowance, key_file, network,
           directory):
    """Open an offer on your active site.

    \b
    Example:
      degen site offer create 1 --model sd-turbo --base-price 2 --per-kwh 30 --collateral 5 --green
    """
    prices = {name: base_units(text, "akre", zero=True) for name, text in
              (("base_price", base_price), ("price_per_kwh", per_kwh), ("collateral", collateral))}
    provider = provider_of(network, directory, key_file)
    offer_id, done = provider.create_offer(site_id, model_name, max_width=max_size, max_height=max_size, max_steps=max_steps,
                                           green=green, rec_allowance_mwh=base_units(rec_allowance, "rec"), **prices)
    for line in done:
        click.echo(line)
    click.echo(f"offer {offer_id} on site {site_id}: {model_name}, up to {max_size}x{max_size} at {max_steps} steps, "
               f"{_akre(prices['base_price'])} + {_akre(prices['price_per_kwh'])}/kWh, collateral {_akre(prices['collateral'])}"
               f"{', green' if green else ''}")
    click.echo(f"Next: name it in the worker's config (degen site config {site_id} --model {model_name}=<folder or hub id> …)")


@offer.command()
@click.argument("offer_id", type=click.IntRange(1))
@owner_options
def close(offer_id, key_file, network, directory):
    """Close an offer: no new job can name it (jobs accepted on it finish).

    \b
    Example:
      degen site offer close 3
    """
    closed = provider_of(network, directory, key_file).close_offer(offer_id)
    click.echo(f"offer {offer_id} (site {closed.site_id}) closed")

