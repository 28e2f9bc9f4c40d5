"""SDK models and helpers, checked without a chain (the on-chain agreement is checked in
tests/contracts: request hashes, digests, limits, prices)."""

import pytest
from click.testing import CliRunner
from eth_account import Account

from degen import deployments, limits, receipts
from degen.cli.main import main
from degen.errors import DegenError, DeploymentNotFound, InvalidInput, InvalidReceipt
from degen.models import EnergyReceipt, GenerationParams, JobTerms, check_prompt, fee_of, job_price, request_hash


def receipt(**changes):
    fields = dict(job_id=1, result_hash="0x" + "ab" * 32, started_at=100, finished_at=130, energy_mwh=50,
                  meter_start=1_000, meter_end=1_050)
    return EnergyReceipt(**(fields | changes))


def test_errors_are_builtins_too():
    assert issubclass(InvalidInput, ValueError) and issubclass(InvalidInput, DegenError)
    assert issubclass(InvalidReceipt, InvalidInput)
    assert issubclass(DeploymentNotFound, FileNotFoundError)


@pytest.mark.parametrize("prompt", ["", "é" * (limits.MAX_PROMPT_BYTES // 2 + 1)])
def test_prompt_bounds_count_utf8_bytes(prompt):
    with pytest.raises(InvalidInput):
        check_prompt(prompt)


def test_request_hash_is_stable_and_param_sensitive():
    params = GenerationParams(seed=7)
    assert request_hash("fox", params) == request_hash("fox", GenerationParams(seed=7))
    assert request_hash("fox", params) != request_hash("fox", GenerationParams(seed=8))
    assert len(request_hash("fox", params)) == 32


@pytest.mark.parametrize(
    "fields", [{"width": 60}, {"width": 2056}, {"steps": 0}, {"guidance_x100": 3001}, {"seed": -1}, {"seed": 2**64}]
)
def test_generation_params_refuse_out_of_bounds(fields):
    with pytest.raises(InvalidInput, match="GenerationParams"):
        GenerationParams(**fields)


def test_job_terms():
    with pytest.raises(InvalidInput, match="open job"):
        JobTerms(max_price=1, deadline=10)
    with pytest.raises(InvalidInput, match="max_price"):
        JobTerms(offer_id=1, max_price=limits.MAX_PRICE + 1, deadline=10)
    terms = JobTerms(offer_id=0, model_id="0x" + "01" * 32, max_price=5, deadline=10)
    assert terms.as_tuple()[1] == b"\x01" * 32


def test_receipt_consistency():
    assert receipt().result_hash == bytes.fromhex("ab" * 32)
    with pytest.raises(InvalidReceipt, match="meter_end"):
        receipt(meter_end=1_051)
    with pytest.raises(InvalidReceipt, match="finishes before"):
        receipt(finished_at=99)
    with pytest.raises(InvalidInput, match="32 bytes"):
        receipt(result_hash=b"short")
    with pytest.raises(InvalidInput):
        receipt(energy_mwh=2**64, meter_end=1_000 + 2**64)


def test_receipt_signature_round_trip():
    meter = Account.from_key(b"\x11" * 32)
    market = "0x" + "cd" * 20
    signature = receipts.sign(receipt(), meter, 31337, market)
    assert receipts.signer_of(receipt(), signature, 31337, market) == meter.address
    assert receipts.signer_of(receipt(energy_mwh=51, meter_end=1_051), signature, 31337, market) != meter.address
    assert receipts.signer_of(receipt(), signature, 1, market) != meter.address
    with pytest.raises(InvalidReceipt):
        receipts.signer_of(receipt(), signature[:64], 31337, market)


def test_price_and_fee():
    assert job_price(10, 3_000_000, 1_000_000, 10**9) == 10 + 3_000_000
    assert job_price(2, 30, 1_500, 10**9) == 2  # 1.5 Wh at 30 units/kWh rounds down to 0
    assert job_price(5, 10**18, 10**6, 7) == 7  # capped
    assert fee_of(399, 1000) == 39 and fee_of(0, 1000) == 0


def _record(network="ethereum:local"):
    return deployments.Deployment(
        network=network, chain_id=31337, block=3, deployer="0x" + "01" * 20, token="0x" + "02" * 20,
        registry="0x" + "03" * 20, market="0x" + "04" * 20, rec_token="0x" + "06" * 20,
        certificate="0x" + "07" * 20, pool="0x" + "08" * 20, router="0x" + "09" * 20, committee="0x" + "0a" * 20,
        timelock="0x" + "0b" * 20, channels="0x" + "0c" * 20, treasury="0x" + "05" * 20, fee_bps=250, dispute_bond=10,
    )


def test_deployments_round_trip(tmp_path):
    path = deployments.save(_record(), tmp_path)
    assert path == tmp_path / "ethereum-local.json"
    assert deployments.load("ethereum:local:foundry", tmp_path) == _record()
    with pytest.raises(DeploymentNotFound, match="sepolia"):
        deployments.load("ethereum:sepolia", tmp_path)
    with pytest.raises(ValueError):
        deployments.file_for("local")


@pytest.mark.parametrize("url", ["http://127.0.0.1:8545", "https://rpc.example.org/v1", "wss://node.example:8546"])
def test_a_network_given_by_its_rpc_url_is_the_custom_network_ape_names_it(url, tmp_path):
    assert deployments.file_for(url, tmp_path) == deployments.file_for("ethereum:custom", tmp_path) == tmp_path / "ethereum-custom.json"


def test_cli_shows_a_deployment(tmp_path):
    deployments.save(_record(), tmp_path)
    result = CliRunner().invoke(main, ["deployment", "--deployments", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "0x" + "04" * 20 in result.output and "fee_bps" in result.output
    missing = CliRunner().invoke(main, ["deployment", "--network", "ethereum:sepolia", "--deployments", str(tmp_path)])
    assert missing.exit_code != 0 and "no deployment for ethereum:sepolia" in missing.output
