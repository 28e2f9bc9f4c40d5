"""The DER owner's commands that run the worker or touch the site's hardware: `degen worker …`,
and `degen site scan`, `simulate` and `config` (which writes the worker's config), which the
SDK's `degen site` group takes in (pyproject.toml, `degen.site_commands`)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from degen.cli.common import SuggestingGroup
from degen.cli.site import owner_options, provider_of
from degen.daemon.run import connect, run_daemon


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5020, show_default=True, type=click.IntRange(1, 65535), help="Modbus TCP port.")
@click.option("--unit-id", default=1, show_default=True, type=click.IntRange(1, 247), help="Modbus unit id it answers on.")
@click.option("--pv-peak-watts", default=6_000.0, show_default=True, type=click.FloatRange(0, 10**8),
              help="PV output at noon (up to 100 MW).")
@click.option("--battery-wh", default=13_500.0, show_default=True, type=click.FloatRange(0),
              help="Battery capacity (0: a PV-only site, no storage model).")
@click.option("--battery-watts", default=5_000, show_default=True, type=click.IntRange(1, 65534), help="Battery power limit.")
@click.option("--load-watts", default=400.0, show_default=True, type=click.FloatRange(0), help="House load.")
@click.option("--soc", default=50.0, show_default=True, type=click.FloatRange(0, 100), help="Initial state of charge, %.")
@click.option("--start-hour", default=12.0, show_default=True, type=click.FloatRange(0, 24), help="Simulated time of day at start.")
@click.option("--speed", default=1.0, show_default=True, type=click.FloatRange(0), help="Simulated seconds per real second.")
@click.option("--lifetime-wh", default=1_000_000, show_default=True, type=click.IntRange(0, 10**12),
              help="The inverters' energy register at start, all together (0: a new installation).")
@click.option("--inverters", default=1, show_default=True, type=click.IntRange(1),
              help="Inverters in the chain (up to 4), sharing the PV equally.")
@click.option("--der-models", is_flag=True, help="Serve IEEE 1547-2018's models (701 inverters, 713 storage) instead of 101 and 124.")
@click.option("--meter", is_flag=True, help="Add a production meter (model 201) counting the PV's energy.")
@click.option("--report-every", default=10.0, show_default=True, type=click.FloatRange(0.1), help="Seconds between status lines.")
def simulate(host, port, unit_id, pv_peak_watts, battery_wh, battery_watts, load_watts, soc, start_hour, speed, lifetime_wh,
             inverters, der_models, meter, report_every):
    """Serve a simulated PV + battery site over SunSpec Modbus TCP (models 1, 101 and 124 at
    40000; or PV only, several inverters, IEEE 1547-2018's 701 and 713, a production meter).

    Point a worker's `[site]` config at it to run the energy policy without hardware.

    \b
    Examples:
      degen site simulate --port 5020 --soc 20 --start-hour 21 --speed 60
      degen site simulate --port 5020 --battery-wh 0 --inverters 2 --meter   # PV only, two inverters, a meter
    """
    from worker.site_device import SunSpecDevice, serve
    from worker.site_sim import SiteSimulator

    simulator = SiteSimulator(
        pv_peak_watts=pv_peak_watts, battery_wh=battery_wh, battery_watts=battery_watts, load_watts=load_watts,
        soc_pct=soc, start_hour=start_hour, speed=speed, lifetime_wh=lifetime_wh,
    )
    try:
        device = SunSpecDevice(simulator, unit_id, inverters=inverters, der_models=der_models, meter=meter)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    models = " ".join(str(placed.model.id) for placed in device.layout)

    def status() -> str:
        state = simulator.advance()
        hour = simulator.hour
        battery = f"battery {state.battery_soc_pct:.1f}% ({state.battery_state})" if state.has_battery else "no battery"
        return (f"{int(hour):02d}:{int(hour % 1 * 60):02d}  PV {state.pv_watts:,.0f} W  {battery}  "
                f"lifetime {state.lifetime_wh:,} Wh")

    async def report_forever():
        while True:
            await asyncio.sleep(report_every)
            click.echo(status())

    async def run():
        ready = lambda: click.echo(f"SunSpec site simulator on {host}:{port} (unit id {unit_id}, models {models})  {status()}")  # noqa: E731
        await asyncio.gather(serve(device, host, port, on_ready=ready), report_forever())

    try:
        asyncio.run(run())
    except OSError as exc:
        raise click.ClickException(str(exc)) from None
    except KeyboardInterrupt:
        click.echo("stopped")


class HostPort(click.ParamType):
    """HOST or HOST:PORT (Modbus TCP's port 502 when none is given)."""

    name = "host[:port]"

    def convert(self, value, param, ctx):
        host, _, port = value.rpartition(":") if ":" in value else (value, "", "502")
        if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            self.fail(f"{value!r} is not HOST or HOST:PORT (a port from 1 to 65535)", param, ctx)
        return host, int(port)


@click.command()
@click.argument("address", type=HostPort())
@click.option("--unit-ids", default="1-3,100,126,200,240", show_default=True,
              help="Modbus unit ids to look on: a list and ranges (1-247 looks everywhere, slowly).")
@click.option("--timeout", default=1.0, show_default=True, type=click.FloatRange(0.1, 30), help="Seconds to wait for each answer.")
def scan(address: tuple[str, int], unit_ids: str, timeout: float):
    """Find the SunSpec devices at HOST[:PORT] (port 502 by default): the models on each unit
    id and base address, what they hold, what the worker would read and sign, and the [site]
    section of worker.toml that reads them.

    Enable Modbus TCP (often called "SunSpec" in the inverter's settings) first.

    \b
    Examples:
      degen site scan 192.168.1.20
      degen site scan 127.0.0.1:5020 --unit-ids 1-10
    """
    from worker.scan import parse_unit_ids
    from worker.scan import scan as scan_device
    from worker.sunspec.reader import SunSpecError

    try:
        units = parse_unit_ids(unit_ids)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--unit-ids") from None
    host, port = address
    try:
        for line in scan_device(host, port, units, timeout):
            click.echo(line)
    except SunSpecError as exc:
        raise click.ClickException(f"{exc}. Is Modbus TCP enabled on the device, and is this its address and port?") from None


class ModelSource(click.ParamType):
    """NAME=SOURCE: a model's name (what requesters ask for) and where the worker loads it from."""

    name = "name=source"

    def convert(self, value, param, ctx):
        name, _, source = value.partition("=")
        if not name.strip() or not source.strip():
            self.fail(f"{value!r} is not NAME=SOURCE (e.g. sd-turbo=stabilityai/sd-turbo, or tiny-sd=models/tiny-sd)", param, ctx)
        return name.strip(), source.strip()


@click.command()
@click.argument("site_id", type=click.IntRange(1))
@click.option("--model", "models", type=ModelSource(), multiple=True, required=True,
              help="NAME=SOURCE for each model your offers serve: a local folder or a Hugging Face hub id (repeat it).")
@click.option("--modbus", type=HostPort(), required=True, help="The inverter's Modbus TCP address, HOST[:PORT] (`degen site scan`).")
@click.option("--unit-ids", default="1", show_default=True, help="Unit ids to read SunSpec models on (`degen site scan` lists them).")
@click.option("--production-meter", type=click.IntRange(1, 247), help="The unit id of a production meter that supplies the energy.")
@click.option("--oracle", "oracle_url", help="An oracle API to report signed meter samples to, beside every member of the "
                                            "oracle committee (which issues RECs from them).")
@click.option("--public-url", help="Where buyers reach this worker's server (published on chain at start).")
@click.option("--port", default=8700, show_default=True, type=click.IntRange(1, 65535), help="The worker's server port.")
@click.option("--allowed-origin", "origins", multiple=True, help="A web page (scheme://host:port) allowed to download (repeat it).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("worker.toml"), show_default=True)
@click.option("--meter-key", type=click.Path(dir_okay=False, path_type=Path), default=Path("keys/meter.key"), show_default=True,
              help="The meter key file.")
@owner_options
def config(site_id, models, modbus, unit_ids, production_meter, oracle_url, public_url, port, origins, out, meter_key, key_file,
           network, directory):
    """Write a worker.toml that runs SITE_ID: its open offers, their models, the chain, the
    keys, your inverter, the oracle and the endpoint, checked against the chain and validated
    before it is written (an existing file is never overwritten).

    \b
    Example:
      degen site config 1 --model sd-turbo=stabilityai/sd-turbo --modbus 192.168.1.20 --unit-ids 1 \\
          --oracle https://oracle.example.org --public-url https://gpu.example.org:8700
    """
    from degen.cli.common import deployments_for, node_url
    from degen.daemon.config import load_key
    from worker.config import write_for_site
    from worker.scan import parse_unit_ids

    try:
        units = parse_unit_ids(unit_ids)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--unit-ids") from None
    provider = provider_of(network, directory, key_file)
    meter = load_key(meter_key, "meter")
    folder = next(path.parent for path, record in deployments_for(network, directory) if record == provider.deployment)
    written = write_for_site(
        out, provider, site_id, meter.address, models=dict(models), network=network, rpc_url=node_url(network),
        deployments_dir=folder, key_files=(key_file, meter_key), modbus=modbus, unit_ids=units, production_meter=production_meter,
        oracle_url=oracle_url, public_url=public_url, port=port, origins=list(origins))
    click.echo(f"wrote {out}: site {site_id}, offers {written.offers}, models {', '.join(written.models)}, Modbus "
               f"{written.site.modbus_host}:{written.site.modbus_port} unit ids {written.site.modbus_unit_ids}, "
               f"telemetry to the oracle committee{' and ' + oracle_url if oracle_url else ''}, "
               f"{'endpoint ' + public_url if public_url else 'no public endpoint (--public-url)'}")
    click.echo(f"Next: degen worker run --config {out}")


@click.group(cls=SuggestingGroup)
def worker():
    """The GPU worker that sells compute on the market.

    \b
    Examples:
      degen worker run --config worker.toml
      degen worker tiny-model models/tiny-sd
    """


@worker.command()
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The worker's TOML config (see README, 'Run a worker').")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False))
def run(config_path: Path, log_level: str):
    """Watch the market, generate accepted jobs, deliver them with signed energy receipts.

    With a [green] section, a green job whose provider holds too few RECs buys the shortfall
    from the EnergyPool inside its delivery (GreenRouter), at most max_premium_pct above the
    pool's TWAP and max_akre_per_job; else it waits (see /health) until its deadline nears.

    Runs until interrupted (Ctrl-C or SIGTERM finish the current step first). State lives in
    the config's data_dir: a restart, even after kill -9, resumes every job exactly once.

    \b
    Example:
      degen worker run --config worker.toml
    """
    with _console_progress() as progress:
        run_daemon(lambda: build_worker(config_path), log_level, progress=progress)


def build_worker(config_path: Path):
    """The worker a config describes, connected to its chain (nothing started yet)."""
    from degen.chain.channels import channels_client
    from degen.chain.recs import rec_market_client
    from worker import config as worker_config
    from degen.inference.pipelines import Pipelines
    from worker.daemon import Worker
    from worker.meter import make_meter

    config = worker_config.load(config_path)
    client, deployment, project = connect(config.chain, config.provider_account())
    site, compute = config.site, config.compute
    return Worker(
        config, client, rec_market_client(client, deployment, project),
        Pipelines(config.model_sources(), device=None if compute.device == "auto" else compute.device,
                  threads=compute.threads, deterministic=compute.deterministic),
        make_meter(config.compute.meter, config.compute.model_watts),
        site.agent(),
        start_block=deployment.block, channels_client=channels_client(client, deployment, project),
    )


def _console_progress():
    """A rich progress display on a terminal; nothing when output goes to a file or pipe."""
    from contextlib import nullcontext

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    if not console.is_terminal:
        return nullcontext(None)
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console, transient=True)


@worker.command("tiny-model")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def tiny_model(directory: Path):
    """Write a tiny random Stable Diffusion pipeline to DIRECTORY (for trying the worker
    without downloading weights; its images are noise).

    \b
    Example:
      degen worker tiny-model models/tiny-sd
    """
    from degen.inference.tiny_model import write_tiny_pipeline

    if directory.exists() and any(directory.iterdir()):
        raise click.ClickException(f"{directory} exists and is not empty")
    write_tiny_pipeline(directory)
    click.echo(f"wrote a tiny Stable Diffusion pipeline to {directory}")
