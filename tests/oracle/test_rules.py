"""The oracle's acceptance rules for signed meter samples, and the samples' EIP-712 signatures."""

import pytest
from eth_account import Account

from degen import telemetry
from degen.errors import InvalidInput, InvalidSignature
from degen.telemetry import MeterSample
from oracle.rules import MAX_AGE_S, MAX_FUTURE_S, SampleRejected, SiteRecord, check, check_site, max_gain_wh

METER = Account.from_key(b"\x11" * 32)
REGISTRY = "0x" + "ab" * 20
SITE = SiteRecord(meter=METER.address, pv_peak_watts=6_000, active=True, battery_wh=13_500)
NOW = 1_800_000_000
PREVIOUS = MeterSample(site_id=1, timestamp=NOW - 300, pv_watts=4_000, register_wh=1_000_000, battery_soc_permille=500)


def sample(**changes):
    fields = dict(site_id=1, timestamp=NOW, pv_watts=4_200, register_wh=1_000_340, battery_soc_permille=510) | changes
    return MeterSample(**fields)


def test_a_consistent_sample_is_accepted():
    check(sample(), METER.address, SITE, PREVIOUS, NOW)
    check(sample(), METER.address, SITE, None, NOW)  # a site's first sample


def test_sites_that_take_no_samples_are_refused_first():
    assert check_site(1, SITE) is SITE
    with pytest.raises(SampleRejected, match="site 1 is not registered") as refused:
        check_site(1, None)
    assert refused.value.status == 404
    with pytest.raises(SampleRejected, match="site 1 is not active") as refused:
        check_site(1, SiteRecord(METER.address, 6_000, active=False, battery_wh=13_500))
    assert refused.value.status == 403


@pytest.mark.parametrize(
    "kwargs, status, reason",
    [
        ({"signer": "0x" + "22" * 20}, 401, "not signed by site 1's meter key"),
        ({"sample": sample(timestamp=NOW + MAX_FUTURE_S + 1)}, 422, "61 s in the future"),
        ({"sample": sample(timestamp=NOW - MAX_AGE_S - 1)}, 422, "older than 7 days"),
        ({"sample": sample(pv_watts=6_001)}, 422, "6001 W is above the site's PV peak of 6000 W"),
        ({"sample": sample(timestamp=NOW - 300)}, 409, "is not after the site's last sample"),
        ({"sample": sample(register_wh=999_999)}, 409, "the register went backwards: 999999 Wh after 1000000 Wh"),
        ({"sample": sample(register_wh=1_000_000 + 442)}, 422, "the register gained 442 Wh in 300 s, impossible at 4000..4200 W"),
        ({"site": SiteRecord(METER.address, 6_000, active=True, battery_wh=0)}, 422,
         "site 1 is registered without a battery and reports a state of charge (510 per mille; a PV-only site reports 65535)"),
    ],
)
def test_every_rejection_says_why(kwargs, status, reason):
    args = {"sample": sample(), "signer": METER.address, "site": SITE, "previous": PREVIOUS} | kwargs
    with pytest.raises(SampleRejected) as refused:
        check(args["sample"], args["signer"], args["site"], args["previous"], NOW)
    assert refused.value.status == status and reason in refused.value.reason


def test_the_register_jump_bound():
    assert max_gain_wh(4_000, 4_200, 6_000, 300) == 441  # 4200 W x 1.25 x (300 + 2) s = 440.4 Wh, + 1 Wh slack
    assert max_gain_wh(0, 0, 6_000, 300) == 63  # night: 10% of the peak, for a sample at sunrise
    assert max_gain_wh(5_900, 6_000, 6_000, 3_600) == 6_004  # never above the peak (over 3,602 s)


def test_a_site_at_its_peak_with_whole_second_timestamps_is_accepted():
    """Seen from outside: 122 Wh in 87 s at 4,999 W on a 5 kW site was refused. Readings taken
    up to a second before their whole-second timestamps, and a register counting whole Wh,
    make that honest: 5 kW over 89 s is 123.6 Wh."""
    site = SiteRecord(METER.address, 5_000, active=True, battery_wh=13_500)
    before = MeterSample(site_id=1, timestamp=NOW - 87, pv_watts=4_999, register_wh=1_000_000, battery_soc_permille=500)
    check(sample(pv_watts=4_999, register_wh=1_000_122), METER.address, site, before, NOW)


def test_a_pv_only_site_signs_no_battery_and_a_site_with_one_may_too():
    pv_only = SiteRecord(METER.address, 6_000, active=True, battery_wh=0)
    check(sample(battery_soc_permille=telemetry.NO_BATTERY), METER.address, pv_only, PREVIOUS, NOW)
    check(sample(battery_soc_permille=telemetry.NO_BATTERY), METER.address, SITE, PREVIOUS, NOW)
    with pytest.raises(ValueError, match="0..1000 per mille, or 65535 for a site without a battery"):
        sample(battery_soc_permille=1001)


def test_samples_are_signed_by_the_meter_key_for_one_chain_and_registry():
    signature = telemetry.sign(sample(), METER, 31337, REGISTRY)
    assert telemetry.signer_of(sample(), signature, 31337, REGISTRY) == METER.address
    assert telemetry.signer_of(sample(pv_watts=4_201), signature, 31337, REGISTRY) != METER.address
    assert telemetry.signer_of(sample(), signature, 1, REGISTRY) != METER.address
    with pytest.raises(InvalidSignature, match="65 bytes"):
        telemetry.signer_of(sample(), signature[:64], 31337, REGISTRY)
    with pytest.raises(InvalidInput, match="battery_soc_permille"):
        sample(battery_soc_permille=1_001)
