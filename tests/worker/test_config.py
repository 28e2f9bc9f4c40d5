"""The worker's TOML config: a written config reads back equal, relative paths resolve
against its folder, and mistakes are reported by key."""

import re

import pytest

from degen.errors import InvalidInput
from degen.daemon.config import to_toml
from worker.config import GreenConfig, WorkerConfig, base_units, load

MINIMAL = {
    "data_dir": "data", "offers": [1], "models": {"tiny-sd": "models/tiny-sd", "sd15": "runwayml/stable-diffusion-v1-5"},
    "account": {"provider_key_file": "provider.key", "meter_key_file": "/keys/meter.key"},
    "site": {"site_id": 1},
}


def test_round_trip_and_relative_paths(tmp_path):
    (tmp_path / "models" / "tiny-sd").mkdir(parents=True)
    written = WorkerConfig.model_validate(MINIMAL)
    (tmp_path / "worker.toml").write_text(to_toml(written))
    config = load(tmp_path / "worker.toml")
    assert config.data_dir == tmp_path / "data"
    assert config.account.provider_key_file == tmp_path / "provider.key"
    assert str(config.account.meter_key_file) == "/keys/meter.key"
    assert config.models == {"tiny-sd": str(tmp_path / "models" / "tiny-sd"), "sd15": "runwayml/stable-diffusion-v1-5"}
    assert config.chain == written.chain.model_copy(update={"deployments": tmp_path / "deployments"})
    assert config.compute == written.compute and config.policy.policy().battery_reserve_pct == 30


@pytest.mark.parametrize(
    "old, new, message",
    [
        ("offers = [1]", "offers = [0]", "offers: Value error, offers are distinct positive offer ids"),
        ("modbus_port = 502", "modbus_port = 70000", "site.modbus_port: Input should be less than or equal to 65535"),
        ('meter = "auto"', 'meter = "guess"', "compute.meter: Input should be 'auto', 'nvml', 'rapl' or 'model'"),
        ("confirmations = 0", "confirmation = 3", "chain.confirmation: Extra inputs are not permitted"),
    ],
)
def test_mistakes_are_named_by_key(tmp_path, old, new, message):
    text = to_toml(WorkerConfig.model_validate(MINIMAL))
    assert old in text
    path = tmp_path / "worker.toml"
    path.write_text(text.replace(old, new))
    with pytest.raises(InvalidInput, match=re.escape(message)):
        load(path)


def test_unreadable_or_invalid_files(tmp_path):
    with pytest.raises(InvalidInput, match="cannot read the worker config"):
        load(tmp_path / "missing.toml")
    (tmp_path / "bad.toml").write_text("offers = [1,\n")
    with pytest.raises(InvalidInput, match="is not valid TOML"):
        load(tmp_path / "bad.toml")
    (tmp_path / "key").write_text("not a key")
    config = WorkerConfig.model_validate(MINIMAL | {"account": {"provider_key_file": str(tmp_path / "key"), "meter_key_file": "x"}})
    with pytest.raises(InvalidInput, match="does not hold a hex private key"):
        config.provider_account()


def test_the_example_config_in_the_repository_is_valid():
    from degen.processes import ROOT

    config = load(ROOT / "worker.example.toml")
    assert config.offers == [1] and config.site.modbus_port == 5020
    assert config.compute == WorkerConfig.model_fields["compute"].default  # the file shows the defaults
    assert config.policy == WorkerConfig.model_fields["policy"].default
    assert config.channels == WorkerConfig.model_fields["channels"].default
    assert config.telemetry is None and config.green is None and config.server.public_url is None  # safe to copy: off


def test_the_example_configs_optional_sections_uncommented_are_the_defaults(tmp_path):
    from degen.processes import ROOT

    text = (ROOT / "worker.example.toml").read_text()
    start = text.index("# Uncomment to report")
    (tmp_path / "worker.toml").write_text(text[:start] + re.sub(r"^# (\[\w+\]|\w+ = )", r"\1", text[start:], flags=re.M))
    config = load(tmp_path / "worker.toml")
    assert config.green == GreenConfig() and config.telemetry.interval_s == 300


def test_the_oracle_example_config_in_the_repository_is_valid():
    from degen.processes import ROOT
    from oracle.config import OracleConfig, load as load_oracle

    config = load_oracle(ROOT / "oracle.example.toml")
    assert config.endpoint(1) == "http://127.0.0.1:8700" and config.database_url().endswith("oracle-data/oracle.sqlite")
    for section in ("ingest", "issuance", "keeper", "verify"):  # the file shows the defaults
        assert getattr(config, section) == OracleConfig.model_fields[section].default, section


def test_the_green_section_turns_rec_buying_on_with_exact_amounts():
    assert WorkerConfig.model_validate(MINIMAL).green is None  # off unless asked for
    green = WorkerConfig.model_validate(MINIMAL | {"green": {"max_akre_per_job": 0.1, "router_allowance_akre": 0.3}}).green
    rules = green.rules()
    assert (rules.max_akre_per_job, rules.max_premium_pct, rules.twap_window_s, rules.deadline_margin_s) == (10**17, 5.0, 3600, 60)
    assert base_units(green.router_allowance_akre) == 3 * 10**17  # as written, not 0.30000000000000004
    with pytest.raises(ValueError, match="router_allowance_akre must be at least max_akre_per_job"):
        WorkerConfig.model_validate(MINIMAL | {"green": {"max_akre_per_job": 2, "router_allowance_akre": 1}})
    with pytest.raises(ValueError, match="green.twap_window_s"):
        WorkerConfig.model_validate(MINIMAL | {"green": {"twap_window_s": 0}})


def test_the_channels_section_has_exact_amounts_and_a_threshold_within_the_limit():
    rules = WorkerConfig.model_validate(MINIMAL | {"channels": {"redeem_threshold_akre": 0.3, "max_unredeemed_akre": 0.7}}).channels.rules()
    assert (rules.redeem_threshold, rules.max_unredeemed, rules.min_deposit) == (3 * 10**17, 7 * 10**17, 10**18)
    with pytest.raises(ValueError, match="redeem_threshold_akre must be at most max_unredeemed_akre"):
        WorkerConfig.model_validate(MINIMAL | {"channels": {"redeem_threshold_akre": 60}})
    with pytest.raises(ValueError, match="channels.redeem_interval_s"):
        WorkerConfig.model_validate(MINIMAL | {"channels": {"redeem_interval_s": 0}})
