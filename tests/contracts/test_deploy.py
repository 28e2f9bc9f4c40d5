"""The deployment every command uses wires the contracts together and hands out roles: the
committee of oracles is issuer, registrar and arbiter, the timelock the admin of every role
and of the committee, and the deployer keeps nothing but pausing new jobs."""

import pytest

from degen.deploy import DEFAULT_MIN_BOND, deploy_all

from tests.conftest import FEE_BPS


def test_contracts_are_wired(market, token, registry, treasury):
    assert market.PAYMENT_TOKEN() == token.address
    assert market.SITE_REGISTRY() == registry.address
    assert market.treasury() == treasury.address and market.fee_bps() == FEE_BPS
    assert market.eip712Domain()[1:3] == ("DeGEN JobMarket", "1")


@pytest.fixture(scope="module")
def operator(accounts, deployer):
    """Who deploys here: not the session's deployer, whose deployments the test isolation
    reverts, leaving Ape to believe these contracts live at addresses the deployer reuses."""
    account = accounts.generate_test_account()
    deployer.transfer(account, 10**21)
    return account


@pytest.fixture(scope="module")
def fresh(project, operator, accounts):
    """A deployment as `ape run deploy` makes it, with three oracles, 2-of-3."""
    oracles = [(accounts[i].address, f"https://oracle-{i}.example.org") for i in (6, 7, 8)]
    return deploy_all(project, operator, oracles=oracles, admin_delay=86_400)


def test_the_committee_holds_the_operator_roles_and_the_deployer_none(fresh, operator, accounts):
    deployer = operator
    rec, registry, market, committee, timelock = fresh.rec, fresh.registry, fresh.market, fresh.committee, fresh.timelock
    for contract, role in ((rec, rec.ISSUER_ROLE()), (registry, registry.REGISTRAR_ROLE()), (market, market.ARBITER_ROLE())):
        assert contract.hasRole(role, committee) and not contract.hasRole(role, deployer)
        admin = contract.DEFAULT_ADMIN_ROLE()
        assert contract.hasRole(admin, timelock) and not contract.hasRole(admin, deployer)
    assert market.hasRole(market.PAUSER_ROLE(), deployer)  # the one emergency power left, in each
    channels = fresh.channels
    assert channels.hasRole(channels.PAUSER_ROLE(), deployer) and channels.NOTICE_PERIOD() == 86_400
    assert channels.hasRole(channels.DEFAULT_ADMIN_ROLE(), timelock) and not channels.hasRole(channels.DEFAULT_ADMIN_ROLE(), deployer)
    assert rec.hasRole(rec.MARKET_ROLE(), market) and rec.hasRole(rec.MARKET_ROLE(), channels)
    assert (channels.JOB_MARKET(), channels.REC_TOKEN(), channels.PAYMENT_TOKEN()) == (market.address, rec.address, fresh.token.address)
    assert committee.admin() == timelock.address and timelock.get_minimum_delay() == 86_400
    assert committee.members() == [accounts[i].address for i in (6, 7, 8)] and committee.threshold() == 2
    assert all(committee.bond_of(accounts[i]) == DEFAULT_MIN_BOND for i in (6, 7, 8))
    assert committee.endpoint_of(accounts[7]) == "https://oracle-7.example.org"
    assert timelock.hasRole(timelock.PROPOSER_ROLE(), deployer) and not timelock.hasRole(timelock.DEFAULT_ADMIN_ROLE(), deployer)


def test_a_development_deployment_is_a_committee_of_one(project, operator):
    deployer = operator
    deployed = deploy_all(project, deployer, admin_delay=0)
    assert deployed.committee.members() == [deployer.address] and deployed.committee.threshold() == 1
    assert not deployed.registry.hasRole(deployed.registry.REGISTRAR_ROLE(), deployer)


def test_rec_token_and_pool_end_their_deployment_with_no_owner_and_no_minter(fresh, operator):
    """snekmate's ERC-20 logs the deployer as owner and minter; both are given up, and logged,
    in the same transaction, so an indexer's last word on either is "nobody"."""
    from eth_utils import keccak

    web3, deployer = operator.provider.web3, operator
    ownership, minter = keccak(text="OwnershipTransferred(address,address)"), keccak(text="RoleMinterChanged(address,bool)")
    for contract in (fresh.rec, fresh.pool):
        logs = web3.eth.get_logs({"address": contract.address, "fromBlock": 0, "toBlock": "latest"})

        def address(topic) -> str:
            return bytes(topic)[-20:].hex()

        owners = [(address(log["topics"][1]), address(log["topics"][2])) for log in logs if log["topics"][0] == ownership]
        minters = [(address(log["topics"][1]), int.from_bytes(bytes(log["data"])[-32:], "big")) for log in logs
                   if log["topics"][0] == minter]
        me, nobody = deployer.address[2:].lower(), "00" * 20
        assert owners == [(nobody, me), (me, nobody)] and minters == [(me, 1), (me, 0)]
        assert len({log["transactionHash"] for log in logs if log["topics"][0] in (ownership, minter)}) == 1


def test_every_contract_that_verifies_a_signature_says_its_domain(contracts, chain):
    """ERC-5267, with the names the SPEC lists (a token's signing name is not its `name()`)."""
    from degen import eip712

    for contract, name in ((contracts.token, "AkreToken"), (contracts.rec, "RECToken"), (contracts.pool, "EnergyPool"),
                           (contracts.market, "DeGEN JobMarket"), (contracts.committee, "DeGEN committee"),
                           (contracts.channels, "DeGEN JobChannels")):
        fields, domain_name, version, chain_id, verifying, salt, extensions = contract.eip712Domain()
        assert (fields, domain_name, version, chain_id, verifying) == (b"\x0f", name, "1", chain.chain_id, contract.address)
        assert salt == b"\x00" * 32 and list(extensions) == []
        separator = eip712.domain_separator(name=name, version="1", chain_id=chain.chain_id, contract=contract.address)
        if contract not in (contracts.market, contracts.committee, contracts.channels):
            assert contract.DOMAIN_SEPARATOR() == separator
