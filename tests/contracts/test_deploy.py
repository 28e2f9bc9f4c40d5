"""The deployment every command uses wires the contracts together and hands out roles."""

from degen.deploy import deploy_all

from tests.conftest import FEE_BPS


def test_contracts_are_wired(market, token, registry, treasury):
    assert market.PAYMENT_TOKEN() == token.address
    assert market.SITE_REGISTRY() == registry.address
    assert market.treasury() == treasury.address and market.fee_bps() == FEE_BPS
    assert market.eip712Domain()[1:3] == ("DeGEN JobMarket", "1")


def test_deployer_holds_the_roles(market, registry, deployer, attacker, arbiter):
    for role in (market.DEFAULT_ADMIN_ROLE(), market.ARBITER_ROLE(), market.PAUSER_ROLE()):
        assert market.hasRole(role, deployer) and not market.hasRole(role, attacker)
    assert market.hasRole(market.ARBITER_ROLE(), arbiter)
    assert registry.hasRole(registry.REGISTRAR_ROLE(), deployer)
    assert not registry.hasRole(registry.REGISTRAR_ROLE(), attacker)


def test_oracle_gets_registrar_and_arbiter(project, deployer, arbiter):
    deployed = deploy_all(project, deployer, oracle=arbiter.address)
    assert deployed.registry.hasRole(deployed.registry.REGISTRAR_ROLE(), arbiter)
    assert deployed.market.hasRole(deployed.market.ARBITER_ROLE(), arbiter)
    assert not deployed.market.hasRole(deployed.market.PAUSER_ROLE(), arbiter)
