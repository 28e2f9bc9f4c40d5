"""`degen web`: the wallet users' page, served on 127.0.0.1 until Ctrl-C or SIGTERM."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from urllib.parse import urlparse

import click

from degen.cli.common import chain_options, node_and_deployment
from degen.errors import DegenError

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@click.command()
@click.option("--port", default=8600, show_default=True, type=click.IntRange(0, 65535), help="Port (0: any free one).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; put a TLS proxy in front of anything but localhost.")
@click.option("--oracle", "oracle_url", default=None, metavar="URL",
              help="The oracle whose site readings (battery, PV) the page shows.")
@click.option("--wallet-rpc", default=None, metavar="URL",
              help="The JSON-RPC URL offered to a wallet that lacks the chain [default: the node's, when both it and "
                   "the page listen on this machine's loopback].")
@chain_options
def web(port: int, host: str, oracle_url: str | None, wallet_rpc: str | None, network: str, directory: Path):
    """Serve the web page: offers, posting and following jobs with a browser wallet,
    certificates, a DER owner's site page and the pool.

    \b
    Example:
      degen web --oracle http://127.0.0.1:8800     # then open http://127.0.0.1:8600
    """
    from degen.http import ServerThread
    from degen.web import PageNotBuilt, create_app

    for option, url in (("--oracle", oracle_url), ("--wallet-rpc", wallet_rpc)):
        if url is not None and not url.startswith(("http://", "https://")):
            raise click.BadParameter(f"{url!r} is not an http(s) URL", param_hint=option)
    try:
        rpc_url, record = node_and_deployment(network, directory)
        if wallet_rpc is None and host in LOOPBACK and urlparse(rpc_url).hostname in LOOPBACK:
            wallet_rpc = rpc_url  # the page is for a browser on this machine, which reaches the node too
        server = ServerThread(create_app(record, rpc_url, oracle_url=oracle_url, wallet_rpc=wallet_rpc), host, port)
        listening = server.start()
    except (DegenError, ValueError, OSError, PageNotBuilt) as exc:
        raise click.ClickException(str(exc)) from None
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    click.echo(f"web page on http://{host}:{listening} (chain {record.chain_id}, market {record.market}); Ctrl-C stops it")
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
