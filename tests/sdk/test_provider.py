"""The DER owner's SDK before anything is sent: keys, a site's declared units and bounds, an
endpoint; and the meter samples a PV-only site signs."""

import stat

import pytest
from eth_account import Account

from degen import limits, telemetry
from degen.provider import ProviderError, SiteSpec, check_endpoint, create_keys
from degen.telemetry import MeterSample


def test_keys_are_new_private_to_their_owner_and_never_overwritten(tmp_path):
    created = create_keys(tmp_path / "keys")
    for role in ("provider", "meter"):
        path, address = created[role]
        assert path == tmp_path / "keys" / f"{role}.key" and stat.S_IMODE(path.stat().st_mode) == 0o600
        assert Account.from_key(path.read_text().strip()).address == address
    assert created["provider"][1] != created["meter"][1]
    before = (tmp_path / "keys" / "provider.key").read_text()
    with pytest.raises(ProviderError, match="exist already: a key file is never overwritten"):
        create_keys(tmp_path / "keys")
    assert (tmp_path / "keys" / "provider.key").read_text() == before


def test_a_site_is_declared_in_the_units_a_der_owner_knows():
    assert SiteSpec.of(10, 20, 450, "br") == SiteSpec(10_000, 20_000, 450, "BR")
    assert SiteSpec.of(5.5, 0, 300, "BR-SP") == SiteSpec(5_500, 0, 300, "BR-SP")  # no battery: a PV-only site


@pytest.mark.parametrize("args, refusal", [
    ((0, 20, 450, "BR"), "0 kW of PV: the registry takes 0.001 to 100,000 kW"),
    ((100_001, 20, 450, "BR"), "100001 kW of PV"),
    ((10, -1, 450, "BR"), "-1 kWh of battery: the registry takes 0 (none) to 1,000,000 kWh"),
    ((10, 1_000_001, 450, "BR"), "1e+06 kWh of battery"),
    ((10, 20, 0, "BR"), "0 W of GPU: the registry takes 1 to 100,000,000 W"),
    ((10, 20, 450, "Brazil"), "'Brazil' is not a country code: two letters (ISO 3166-1, e.g. BR)"),
    ((10, 20, 450, "B"), "is not a country code"),
    ((10, 20, 450, "BR-SAOP"), "is not a country code"),
])
def test_a_site_outside_the_registrys_bounds_is_refused_before_sending(args, refusal):
    with pytest.raises(ProviderError) as refused:
        SiteSpec.of(*args)
    assert refusal in str(refused.value)


def test_an_endpoint_is_an_http_url_the_registry_takes():
    assert check_endpoint("https://gpu.example.org:8700") == "https://gpu.example.org:8700"
    for bad in ("gpu.example.org", "ftp://gpu.example.org", "https://", "https://" + "a" * limits.MAX_ENDPOINT_BYTES):
        with pytest.raises(ProviderError, match="is not an endpoint"):
            check_endpoint(bad)


def test_a_pv_only_sample_signs_no_battery_and_nothing_else_above_1000():
    sample = MeterSample(site_id=1, timestamp=1, pv_watts=10, register_wh=5, battery_soc_permille=telemetry.NO_BATTERY)
    assert not sample.has_battery and MeterSample(**{**sample.model_dump(), "battery_soc_permille": 1000}).has_battery
    for value in (1001, 65534, 65536, -1):
        with pytest.raises(ValueError):
            MeterSample(**{**sample.model_dump(), "battery_soc_permille": value})
