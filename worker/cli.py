"""`degen site …` and `degen worker …`: the DER owner's commands."""

from __future__ import annotations

import asyncio

import click


@click.group()
def site():
    """The DER site: inverter, PV and battery."""


@site.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5020, show_default=True, type=click.IntRange(1, 65535), help="Modbus TCP port.")
@click.option("--pv-peak-watts", default=6_000.0, show_default=True, type=click.FloatRange(0), help="PV output at noon.")
@click.option("--battery-wh", default=13_500.0, show_default=True, type=click.FloatRange(1), help="Battery capacity.")
@click.option("--battery-watts", default=5_000, show_default=True, type=click.IntRange(1, 65535), help="Battery power limit.")
@click.option("--load-watts", default=400.0, show_default=True, type=click.FloatRange(0), help="House load.")
@click.option("--soc", default=50.0, show_default=True, type=click.FloatRange(0, 100), help="Initial state of charge, %.")
@click.option("--start-hour", default=12.0, show_default=True, type=click.FloatRange(0, 24), help="Simulated time of day at start.")
@click.option("--speed", default=1.0, show_default=True, type=click.FloatRange(0), help="Simulated seconds per real second.")
@click.option("--report-every", default=10.0, show_default=True, type=click.FloatRange(0.1), help="Seconds between status lines.")
def simulate(host, port, pv_peak_watts, battery_wh, battery_watts, load_watts, soc, start_hour, speed, report_every):
    """Serve a simulated PV + battery site over SunSpec Modbus TCP (models 1, 101, 124).

    Point a worker's `[site]` config at it to run the energy policy without hardware.

    \b
    Example:
      degen site simulate --port 5020 --soc 20 --start-hour 21 --speed 60
    """
    from worker.site_sim import SiteSimulator, serve

    simulator = SiteSimulator(
        pv_peak_watts=pv_peak_watts, battery_wh=battery_wh, battery_watts=battery_watts, load_watts=load_watts,
        soc_pct=soc, start_hour=start_hour, speed=speed,
    )

    def status() -> str:
        state = simulator.advance()
        hour = simulator.hour
        return (f"{int(hour):02d}:{int(hour % 1 * 60):02d}  PV {state.pv_watts:,.0f} W  "
                f"battery {state.battery_soc_pct:.1f}%  lifetime {state.lifetime_wh:,} Wh")

    async def report_forever():
        while True:
            await asyncio.sleep(report_every)
            click.echo(status())

    async def run():
        ready = lambda: click.echo(f"SunSpec site simulator on {host}:{port} (device id 1)  {status()}")  # noqa: E731
        await asyncio.gather(serve(simulator, host, port, on_ready=ready), report_forever())

    try:
        asyncio.run(run())
    except OSError as exc:
        raise click.ClickException(str(exc)) from None
    except KeyboardInterrupt:
        click.echo("stopped")
