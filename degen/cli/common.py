"""What the `degen` commands share: the chain options, connecting through Ape, and how
energy and times are printed."""

from __future__ import annotations

from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from datetime import datetime, timezone
from pathlib import Path

import click

from degen import deployments
from degen.errors import DegenError
from degen.pool import DECIMALS, SYMBOLS, amount_text

MWH_PER_REC = 1_000_000  # 1 REC = 1 kWh = 10^6 mWh (6 decimals)


STORY_DIR = Path(".demo")  # `make run`'s folder (scripts/demo.py --workdir)
# Where the CLI looks for a deployment when --deployments is not given, in order: `make deploy`'s
# folder, then the running story's (`make run DEMO_ARGS=--keep-running`).
DEFAULT_DEPLOYMENTS = (deployments.DEFAULT_DIR, STORY_DIR / "deployments")


def chain_options(command):
    """--network and --deployments for commands that read the contracts."""
    command = click.option(
        "--deployments", "directory", type=click.Path(path_type=Path), default=None,
        help="Folder of deployment files [default: deployments/, else the story's .demo/deployments/: the first "
             "whose contracts are on the chain].",
    )(command)
    return click.option(
        "--network", default="ethereum:local:foundry", show_default=True,
        help="Ape network choice; its deployment file names the contracts.",
    )(command)


class SuggestingGroup(click.Group):
    """A command group that answers a mistyped command with the ones it may have meant."""

    def resolve_command(self, ctx, args):
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError:
            import difflib

            name = args[0] if args else ""
            close = difflib.get_close_matches(name, self.list_commands(ctx), n=3, cutoff=0.6)
            if not close or name.startswith("-"):
                raise
            raise click.UsageError(f"No such command {name!r}. Did you mean {' or '.join(map(repr, close))}?", ctx) from None


class Interrupted(click.ClickException):
    """Ctrl-C or SIGTERM, with what it left behind: one sentence, and the shell's exit status
    for the signal (128 + its number)."""

    def __init__(self, message: str, signum: int = 2):
        super().__init__(message)
        self.exit_code = 128 + signum


class AddressType(click.ParamType):
    """An Ethereum address (0x and 40 hex digits), checksummed for the contracts."""

    name = "address"

    def convert(self, value, param, ctx):
        from eth_utils import is_address, to_checksum_address

        if not is_address(value):
            self.fail(f"{value!r} is not an address (0x and 40 hex digits)", param, ctx)
        return to_checksum_address(value)


ADDRESS = AddressType()
LOCAL_NODE = "http://127.0.0.1:8545"  # where Ape's foundry provider looks unless told otherwise


@contextmanager
def connected(network: str, directory: Path | None, *, read_only: bool = False):
    """Connects to `network` and yields the deployment's contracts: the one in `directory`,
    or without it the first of DEFAULT_DEPLOYMENTS whose contracts are on the node's chain.
    Through Ape, or with `read_only` over plain JSON-RPC where the node's URL is known
    (`degen.chain.readonly`: the same reads, without Ape's start-up). SDK and Ape errors
    become one-line CLI errors. The node must already run: the CLI never starts an empty
    chain of its own (an answer read from one would be wrong), and a deployment whose
    contracts are not on the node's chain is refused."""
    from web3.exceptions import Web3Exception

    try:
        candidates = deployments_for(network, directory)
        url = node_url(network)
        chain_id = None if url is None else check_node(url, network)
        if read_only and url is not None:
            yield _read_only(url, chain_id, candidates)
            return
        from ape import networks
        from ape.exceptions import ApeException
        from ape.logging import LogLevel, logger

        from degen.contracts import ape_project, at

        logger.set_level(LogLevel.WARNING)  # no "Confirmed 0x…" line per transaction
        settings = {"manage_process": False} if ":foundry" in network else {}
        try:
            with networks.parse_network_choice(network, provider_settings=settings) as provider:
                yield at(ape_project(), _on_chain(candidates, provider.chain_id, provider.get_code, url or network))
        except ApeException as exc:
            raise DegenError(str(exc)) from None
    except (DegenError, ValueError, Web3Exception, OSError) as exc:  # OSError: the node went away mid-command
        raise click.ClickException(str(exc)) from None


def _on_chain(candidates: list, chain_id: int, has_code, url: str):
    """The first deployment whose contracts are on this chain; DegenError when none is."""
    for _, record in candidates:
        if chain_id == record.chain_id and has_code(record.market):
            return record
    raise DegenError(
        f"the contracts of {' and of '.join(str(path) for path, _ in candidates)} are not on the chain at {url} "
        f"(chain {chain_id}): deployed on another chain that is gone; redeploy, or name the right file's folder "
        "with --deployments")


def _web3(url: str):
    from web3 import HTTPProvider, Web3

    return Web3(HTTPProvider(url, request_kwargs={"timeout": 30}))


def _read_only(url: str, chain_id: int, candidates: list):
    from degen.chain.readonly import published_abis, read_only

    web3 = _web3(url)
    record = _on_chain(candidates, chain_id, web3.eth.get_code, url)
    return read_only(web3, record, published_abis())


def node_and_deployment(network: str, directory: Path | None) -> tuple[str, deployments.Deployment]:
    """The node's JSON-RPC URL and the deployment whose contracts are on its chain, for
    commands that talk to the node themselves (`degen web`); DegenError when either is missing."""
    candidates = deployments_for(network, directory)
    url = node_url(network)
    if url is None:
        raise DegenError(f"{network} is resolved by an Ape plugin: name its node by URL (--network https://…)")
    return url, _on_chain(candidates, check_node(url, network), _web3(url).eth.get_code, url)


def deployments_for(network: str, directory: Path | None) -> list:
    """(file, Deployment) of `network` in `directory`, or in each default folder that has one."""
    folders = [directory] if directory is not None else DEFAULT_DEPLOYMENTS
    found = [(deployments.file_for(network, folder), folder) for folder in folders]
    found = [(path, deployments.load(network, folder)) for path, folder in found if path.exists()]
    if not found:
        tried = " or ".join(str(deployments.file_for(network, folder)) for folder in folders)
        raise deployments.DeploymentNotFound(
            f"no deployment for {network} at {tried}: start the story (`make run DEMO_ARGS=--keep-running`) or deploy "
            "(README, Deploying elsewhere)")
    return found


def node_url(network: str) -> str | None:
    """The JSON-RPC URL a network choice reaches: the URL itself, or for Ape's local network
    the host its foundry provider uses (APE_FOUNDRY_HOST, else 127.0.0.1:8545); None for the
    networks Ape resolves from its plugins (a public chain's node)."""
    import os

    if network.startswith(("http://", "https://")):
        return network
    if network.split(":")[1:2] == ["local"]:
        return os.environ.get("APE_FOUNDRY_HOST", LOCAL_NODE)
    return None


def check_node(url: str, network: str) -> int:
    """The chain id of the JSON-RPC node at `url`; DegenError, saying what to do, when none
    answers there."""
    import requests

    try:
        answer = requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}, timeout=5)
        answer.raise_for_status()
        return int(answer.json()["result"], 16)
    except (requests.RequestException, ValueError, KeyError, TypeError):
        raise DegenError(
            f"no chain answers at {url} (--network {network}): start one first, e.g. the story with "
            "`make run DEMO_ARGS=--keep-running`, or name a running node with --network http://HOST:PORT") from None


def failures(function):
    """Turns an SDK error (a refused action, a bad value) into one sentence and exit status 1."""
    from functools import wraps

    @wraps(function)
    def wrapped(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except (DegenError, ValueError) as exc:
            raise click.ClickException(str(exc)) from None

    return wrapped


class TokenAmount(click.ParamType):
    """An amount of `token` ("akre", "rec") as exact base units (see `base_units`)."""

    name = "amount"

    def __init__(self, token: str):
        self.token = token

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            return value
        try:
            return base_units(str(value), self.token)
        except click.BadParameter as exc:
            self.fail(exc.message, param, ctx)


def base_units(text: str, token: str, *, zero: bool = False) -> int:
    """"12.5" RECs or AKRE as base units, exactly (no binary float on the way); more than 0
    unless `zero` allows it."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise click.BadParameter(f"{text!r} is not a number") from None
    decimals, symbol = DECIMALS[token], SYMBOLS[token]
    units = value.scaleb(decimals)
    if not value.is_finite() or value < 0 or (value == 0 and not zero):
        raise click.BadParameter(f"{text} {symbol}: the amount must be {'0 or ' if zero else ''}more than 0")
    if units != units.to_integral_value():
        smallest = amount_text(1, token)
        raise click.BadParameter(f"{text} {symbol} has more than {decimals} decimals (the smallest amount is {smallest})")
    return int(units)


def energy_text(mwh: int) -> str:
    kwh = f"{mwh / MWH_PER_REC:,.6f}".rstrip("0").rstrip(".")
    return f"{mwh:,} mWh ({kwh} REC = {kwh} kWh)"


def time_text(seconds: int) -> str:
    return f"{datetime.fromtimestamp(seconds, timezone.utc):%Y-%m-%d %H:%M:%S} UTC"
