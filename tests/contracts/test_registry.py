"""SiteRegistry: registration bounds, the Pending -> Active -> Suspended lifecycle both
ways, registrar-only transitions and owner-only meter rotation."""

import pytest

from degen import limits
from degen.models import SiteStatus

METER = "0x" + "11" * 20
ZERO = "0x" + "00" * 20


@pytest.fixture
def pending_site(registry, provider):
    return registry.register_site(METER, 10_000, 20_000, 450, "BR", sender=provider).return_value


def test_register_records_a_pending_site(registry, provider):
    tx = registry.register_site(METER, 10_000, 20_000, 450, "BR-SP", sender=provider)
    site_id = tx.return_value
    event = tx.decode_logs(registry.SiteRegistered)[0]
    assert (event.site_id, event.owner, event.meter) == (site_id, provider.address, registry.site(site_id).meter)
    assert (event.pv_peak_watts, event.battery_wh, event.max_gpu_watts, event.region) == (10_000, 20_000, 450, "BR-SP")
    site = registry.site(site_id)
    assert site.owner == provider.address and site.status == SiteStatus.PENDING and site.region == "BR-SP"
    assert registry.owner_of(site_id) == provider.address
    assert registry.meter_of(site_id) == (site.meter, 450, False)
    assert not registry.is_active(site_id)


@pytest.mark.parametrize(
    "args, message",
    [
        ((ZERO, 10_000, 0, 450, "BR"), "registry: meter is zero"),
        ((METER, 0, 0, 450, "BR"), "registry: pv peak out of range"),
        ((METER, 100_000_001, 0, 450, "BR"), "registry: pv peak out of range"),
        ((METER, 10_000, 1_000_000_001, 450, "BR"), "registry: battery out of range"),
        ((METER, 10_000, 0, 0, "BR"), "registry: gpu watts out of range"),
        ((METER, 10_000, 0, 100_000_001, "BR"), "registry: gpu watts out of range"),
        ((METER, 10_000, 0, 450, "B"), "registry: region too short"),
    ],
)
def test_register_refuses_bad_input(args, message, registry, provider, reverts):
    with reverts(message):
        registry.register_site(*args, sender=provider)


def test_the_sdk_mirrors_the_registrys_bounds(registry):
    """`degen site register` refuses out-of-range input before sending, by these."""
    assert (limits.MAX_WATTS, limits.MAX_BATTERY_WH, limits.MAX_ENDPOINT_BYTES) == (
        registry.MAX_WATTS(), registry.MAX_BATTERY_WH(), registry.MAX_ENDPOINT_BYTES())


def test_status_moves_both_ways(registry, deployer, pending_site, reverts):
    tx = registry.activate(pending_site, sender=deployer)
    event = tx.decode_logs(registry.SiteStatusChanged)[0]
    assert (event.site_id, event.status, event.registrar) == (pending_site, SiteStatus.ACTIVE, deployer.address)
    assert registry.is_active(pending_site)
    with reverts("registry: bad site status"):
        registry.activate(pending_site, sender=deployer)
    registry.suspend(pending_site, sender=deployer)
    assert registry.site(pending_site).status == SiteStatus.SUSPENDED
    with reverts("registry: bad site status"):
        registry.suspend(pending_site, sender=deployer)
    registry.activate(pending_site, sender=deployer)
    assert registry.is_active(pending_site)


def test_pending_site_can_be_suspended(registry, deployer, pending_site):
    registry.suspend(pending_site, sender=deployer)
    assert registry.site(pending_site).status == SiteStatus.SUSPENDED


def test_unknown_site_has_no_status(registry, deployer, reverts):
    with reverts("registry: bad site status"):
        registry.activate(999, sender=deployer)


def test_only_the_registrar_moves_status(registry, attacker, provider, pending_site, reverts):
    for sender in (attacker, provider):
        with reverts("access_control: account is missing role"):
            registry.activate(pending_site, sender=sender)
        with reverts("access_control: account is missing role"):
            registry.suspend(pending_site, sender=sender)


def test_registrar_role_can_be_granted(registry, govern, arbiter, pending_site):
    govern((registry, registry.grantRole.encode_input(registry.REGISTRAR_ROLE(), arbiter)))
    registry.activate(pending_site, sender=arbiter)
    assert registry.is_active(pending_site)


def test_owner_rotates_the_meter(registry, provider, attacker, pending_site, chain, reverts):
    new_meter = "0x" + "22" * 20
    with reverts("registry: not site owner"):
        registry.rotate_meter(pending_site, new_meter, sender=attacker)
    with reverts("registry: meter is zero"):
        registry.rotate_meter(pending_site, ZERO, sender=provider)
    with reverts("registry: same meter"):
        registry.rotate_meter(pending_site, METER, sender=provider)
    tx = registry.rotate_meter(pending_site, new_meter, sender=provider)
    event = tx.decode_logs(registry.MeterRotated)[0]
    assert event.old_meter.lower() == METER and event.new_meter.lower() == new_meter
    site = registry.site(pending_site)
    assert site.meter.lower() == new_meter and site.meter_rotated_at == tx.timestamp
    assert site.status == SiteStatus.PENDING and site.max_gpu_watts == 450


def test_the_owner_publishes_a_result_endpoint(registry, provider, attacker, pending_site, reverts):
    tx = registry.set_endpoint(pending_site, "https://gpu.bob.example:8700", sender=provider)
    assert registry.endpoint_of(pending_site) == "https://gpu.bob.example:8700"
    assert tx.decode_logs(registry.EndpointSet)[0].endpoint == "https://gpu.bob.example:8700"
    registry.set_endpoint(pending_site, "http://127.0.0.1:8700", sender=provider)
    assert registry.endpoint_of(pending_site) == "http://127.0.0.1:8700"
    with reverts("registry: not site owner"):
        registry.set_endpoint(pending_site, "https://evil.example", sender=attacker)
    for bad in ("ftp://x", "http://", "https://", "http", "javascript:alert(1)"):
        with reverts("registry: endpoint not http(s)"):
            registry.set_endpoint(pending_site, bad, sender=provider)
    registry.set_endpoint(pending_site, "", sender=provider)  # cleared
    assert registry.endpoint_of(pending_site) == ""
    with reverts("registry: not site owner"):  # unknown sites have no owner
        registry.set_endpoint(999, "https://x.example", sender=provider)
