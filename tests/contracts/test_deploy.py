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


def test_rec_token_and_pool_end_their_deployment_with_no_owner_and_no_minter(project, deployer):
    """snekmate's ERC-20 logs the deployer as owner and minter; both are given up, and logged,
    in the same transaction, so an indexer's last word on either is "nobody"."""
    from eth_utils import keccak

    deployed = deploy_all(project, deployer)
    web3 = deployer.provider.web3
    ownership, minter = keccak(text="OwnershipTransferred(address,address)"), keccak(text="RoleMinterChanged(address,bool)")
    for contract in (deployed.rec, deployed.pool):
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
                           (contracts.market, "DeGEN JobMarket")):
        fields, domain_name, version, chain_id, verifying, salt, extensions = contract.eip712Domain()
        assert (fields, domain_name, version, chain_id, verifying) == (b"\x0f", name, "1", chain.chain_id, contract.address)
        assert salt == b"\x00" * 32 and list(extensions) == []
        separator = eip712.domain_separator(name=name, version="1", chain_id=chain.chain_id, contract=contract.address)
        if contract is not contracts.market:
            assert contract.DOMAIN_SEPARATOR() == separator
