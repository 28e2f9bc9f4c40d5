"""The daemons' run loop and their connection to the chain: one way to start, stop and connect
a worker or an oracle."""

from __future__ import annotations

import signal

import click

from degen.errors import DegenError


def run_daemon(build, log_level: str, **attributes) -> None:
    """Builds a daemon (worker or oracle), sets it up and runs it until Ctrl-C or SIGTERM,
    then stops it cleanly and says what it left in progress (`daemon.left_open()`: it resumes
    at the next start); setup problems become a one-line error."""
    import logging

    from degen.daemon import logs

    logs.setup(log_level)
    try:
        daemon = build()
    except (DegenError, ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    for name, value in attributes.items():
        setattr(daemon, name, value)
    stopped_by = []

    def on_sigterm(signum, frame):
        stopped_by.append("SIGTERM")
        daemon.request_stop()

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        daemon.setup()
        daemon.run_forever()
    except (DegenError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    except KeyboardInterrupt:
        stopped_by.append("SIGINT")
    finally:
        left = daemon.left_open() if stopped_by else None  # read while its stores are open
        daemon.stop()
    if left is not None:
        logging.getLogger("degen.daemon").info(f"stopped on {stopped_by[0]}: {left}")


def connect(chain, account):
    """A MarketClient for `account` on the deployment `chain` (a ChainConfig) names, checked
    to be the chain the node serves; also the deployment and the project's contract types."""
    from web3 import HTTPProvider, Web3

    from degen import deployments
    from degen.contracts import abi_of, ape_project
    from degen.chain.market import MarketClient

    deployment = deployments.load(chain.network, chain.deployments)
    project = ape_project()
    web3 = Web3(HTTPProvider(chain.rpc_url, request_kwargs={"timeout": 30}))
    if not web3.is_connected():
        raise OSError(f"no JSON-RPC node answers at {chain.rpc_url}")
    client = MarketClient(
        web3, deployment.market, abi_of(project.JobMarket.contract_type),
        deployment.registry, abi_of(project.SiteRegistry.contract_type), account,
        committee=web3.eth.contract(address=deployment.committee, abi=abi_of(project.OracleCommittee.contract_type)),
        replace_after_blocks=chain.replace_after_blocks, max_fee_per_gas=int(chain.max_fee_gwei * 10**9),
    )
    if client.chain_id != deployment.chain_id:
        raise ValueError(f"{chain.rpc_url} serves chain {client.chain_id}, the deployment is on chain {deployment.chain_id}")
    return client, deployment, project
