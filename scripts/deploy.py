"""Deploys DeGEN's contracts and writes deployments/<ecosystem>-<network>.json.

    ape run deploy --network ethereum:local:foundry            # a local anvil of its own (started, then stopped), test account 0
    ape run deploy --network http://127.0.0.1:8545 --account TEST::0   # a node already running at that URL
    ape run deploy --network ethereum:sepolia:node --account deployer --yes --treasury 0x... \
        --oracle 0x...=https://oracle-1.example.org --oracle 0x...=https://oracle-2.example.org --oracle 0x...=https://oracle-3.example.org
"""

from pathlib import Path


import click
from ape import accounts, chain, networks, project
from ape.cli import ConnectedProviderCommand, account_option, network_option
from ape.exceptions import ProviderError

from degen import deployments
from degen.deploy import (DEFAULT_ADMIN_DELAY, DEFAULT_DISPUTE_BOND, DEFAULT_FEE_BPS, DEFAULT_MIN_BOND, DEFAULT_ORACLE_ENDPOINT,
                          AKRE, deploy_all, record_of)


class OracleMember(click.ParamType):
    """ADDRESS or ADDRESS=URL: a committee member and where it serves its API."""

    name = "address[=url]"

    def convert(self, value, param, ctx):
        from eth_utils import is_address, to_checksum_address

        address, _, url = value.partition("=")
        if not is_address(address):
            self.fail(f"{address!r} is not an address", param, ctx)
        url = url or DEFAULT_ORACLE_ENDPOINT
        if not url.startswith(("http://", "https://")) or len(url) > 128:
            self.fail(f"{url!r} is not an http(s) URL of at most 128 characters", param, ctx)
        return to_checksum_address(address), url


class DeployCommand(ConnectedProviderCommand):
    """Ape's connected command, with a node that does not answer said in one sentence."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ProviderError as exc:
            raise click.ClickException(f"{str(exc).rstrip('.')}: start the node first, or check --network") from None


def _keep_a_live_deployment(network_name: str, directory: Path, replace: bool) -> None:
    """A deployment file is never overwritten while its contracts are on this chain, unless
    --replace says so: the CLI and the daemons of its users read it."""
    path = deployments.file_for(network_name, directory)
    if not path.exists():
        return
    try:
        old = deployments.load(network_name, directory)
    except ValueError:
        raise click.UsageError(f"{path} exists and is not a deployment file: move it away, or name another --deployments folder") from None
    if old.chain_id == chain.chain_id and len(chain.provider.get_code(old.market)) > 0:
        if not replace:
            raise click.UsageError(
                f"{path} names a deployment whose contracts are on this chain (JobMarket {old.market}): deploying would "
                "overwrite it. Name another folder with --deployments to keep both, or pass --replace to replace it")
        click.echo(f"replacing {path}: its JobMarket {old.market} stays on chain, no longer named by the file")


def _deployer(account):
    """The given account, or on a local or forked network anvil's first test account."""
    if account is not None:
        return account
    if networks.provider.network.is_dev:
        return accounts.test_accounts[0]
    raise click.UsageError("pass --account ALIAS to deploy on a live network")


def _refuse_someone_elses_chain(network):
    """`--network ethereum:local:foundry` means a fresh anvil for this deploy. When a node
    already listens where Ape looks (the story's, say), deploying there would add a second set
    of contracts beside the ones its users' deployment file names: refused, unless the node
    is named by its URL, on purpose."""
    provider = networks.provider
    if network.name == "local" and getattr(provider, "process", None) is None:
        raise click.UsageError(
            f"a chain is already running at {provider.uri} (the story's, if `make run DEMO_ARGS=--keep-running` is on); "
            "deploying there would add a second set of contracts beside its own, whose deployment file the CLI uses. "
            f"To deploy on it on purpose, name it: ape run deploy --network {provider.uri}")


@click.command(cls=DeployCommand)
@network_option()
@account_option(prompt=False)
@click.option("--treasury", default=None, help="Address that receives protocol fees (default: the deployer).")
@click.option("--oracle", "oracles", multiple=True, type=OracleMember(),
              help="A member of the oracle committee (repeat it): ADDRESS=URL of its API. Default: the deployer alone.")
@click.option("--threshold", type=click.IntRange(1), help="Signatures a committee report needs [default: a majority].")
@click.option("--admin-delay", default=DEFAULT_ADMIN_DELAY, show_default=True, type=click.IntRange(0),
              help="Seconds a change of roles or of the committee waits in the timelock.")
@click.option("--fee-bps", default=DEFAULT_FEE_BPS, show_default=True, type=click.IntRange(0, 1000))
@click.option("--dispute-bond", default=DEFAULT_DISPUTE_BOND, show_default=True, type=click.IntRange(0))
@click.option("--yes", "autosign", is_flag=True,
              help="Sign every transaction without a prompt (scripted deploys). A keyfile account is unlocked once, "
                   "with the passphrase in APE_ACCOUNTS_<alias>_PASSPHRASE when set.")
@click.option("--deployments", "directory", type=click.Path(path_type=Path), default=deployments.DEFAULT_DIR,
              show_default=True, help="Folder the deployment file is written to.")
@click.option("--replace", is_flag=True, help="Overwrite a deployment file whose contracts are still on this chain.")
def cli(ecosystem, network, account, treasury, oracles, threshold, admin_delay, fee_bps, dispute_bond, autosign, directory,
        replace):
    """Deploy DeGEN's contracts, wire roles and record the addresses."""
    _refuse_someone_elses_chain(network)
    _keep_a_live_deployment(f"{ecosystem.name}:{network.name}", directory, replace)
    deployer = _deployer(account)
    if autosign and hasattr(deployer, "set_autosign"):  # test accounts never ask
        deployer.set_autosign(True)
    first_block = chain.blocks.height
    if threshold is not None and not len(oracles or [None]) / 2 < threshold <= len(oracles or [None]):
        raise click.BadParameter(f"{threshold} of {len(oracles or [None])} members is not a majority", param_hint="--threshold")
    contracts = deploy_all(
        project, deployer, treasury=treasury, fee_bps=fee_bps, dispute_bond=dispute_bond, oracles=list(oracles) or None,
        threshold=threshold, admin_delay=admin_delay,
    )
    record = record_of(
        contracts, network=f"{ecosystem.name}:{network.name}", chain_id=chain.chain_id, block=chain.blocks.height,
        deployer=deployer.address,
    )
    path = deployments.save(record, directory)
    gas = sum(chain.blocks[n].gas_used for n in range(first_block + 1, chain.blocks.height + 1))

    click.echo(f"DeGEN deployed on {record.network} (chain id {record.chain_id}) by {record.deployer}")
    click.echo(f"  AkreToken     {record.token}  supply {contracts.token.totalSupply() // AKRE:,} AKRE")
    click.echo(f"  SiteRegistry  {record.registry}")
    click.echo(f"  JobMarket     {record.market}")
    click.echo(f"  RECToken      {record.rec_token}")
    click.echo(f"  Certificates  {record.certificate}")
    click.echo(f"  EnergyPool    {record.pool}  REC half-life {contracts.pool.HALF_LIFE() / 86400:,.0f} days")
    click.echo(f"  GreenRouter   {record.router}")
    committee = contracts.committee
    click.echo(f"  Committee     {record.committee}  {committee.threshold()} of {len(committee.members())}: "
               f"{', '.join(committee.members())}; bonds of {DEFAULT_MIN_BOND // AKRE:,} AKRE each")
    click.echo(f"  Timelock      {record.timelock}  delay {admin_delay:,} s")
    click.echo(f"  fee           {record.fee_bps} bps to {record.treasury}")
    click.echo(f"  dispute bond  {record.dispute_bond / AKRE:g} AKRE")
    click.echo("  roles         issuer, registrar and arbiter: the committee; every admin role: the timelock; pausing: the deployer")
    click.echo(f"  gas used      {gas:,} in {chain.blocks.height - first_block} transactions")
    click.echo(f"  written to    {path}")
    if getattr(networks.provider, "process", None) is not None:
        click.echo("The anvil started for this deploy stops now, and its chain with it; deploy to a node that keeps "
                   "running with --network http://127.0.0.1:8545 (README, Deploying elsewhere).")
