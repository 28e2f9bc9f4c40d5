# pragma version ~=0.4.3
"""
@title SiteRegistry
@custom:contract-name SiteRegistry
@license GNU Affero General Public License v3.0 only
@notice The register of DER sites (rooftop PV + battery + GPU) that may
        sell compute in DeGEN. An owner registers a site with its meter
        signing key and physical limits; the registrar (the network
        operator's oracle) activates it after checking the installation
        and may suspend it. Owners rotate their meter key here; a rotation
        takes effect at once, so receipts signed with the old key are only
        valid for jobs that were already delivered.
@custom:kill Revoke REGISTRAR_ROLE from every account and suspend every site:
             the JobMarket then refuses new offers, accepts and deliveries
             for those sites. Nothing here holds funds.
"""


# @dev The public interface this contract implements.
from .interfaces import ISiteRegistry
implements: ISiteRegistry

# @dev Role-based access control (registrar role, admin).
from snekmate.auth import access_control
initializes: access_control

# @dev What an endpoint may be.
from .modules import web_urls

exports: access_control.__interface__


# @dev The role that activates and suspends sites.
REGISTRAR_ROLE: public(constant(bytes32)) = keccak256("REGISTRAR_ROLE")

# @dev Upper bounds on the declared physical limits of one site.
MAX_WATTS: public(constant(uint256)) = 100_000_000
MAX_BATTERY_WH: public(constant(uint256)) = 1_000_000_000

# @dev The longest result endpoint URL a site may publish.
MAX_ENDPOINT_BYTES: public(constant(uint256)) = 128

# @dev Bit layout of the packed meter word read by the market on every
# delivery: meter key (160 bits) | max GPU watts (32) | status (8).
_GPU_SHIFT: constant(uint256) = 160
_STATUS_SHIFT: constant(uint256) = 192


# @dev The fields of a site that are not read on the delivery path.
struct SiteInfo:
    owner: address
    pv_peak_watts: uint32
    battery_wh: uint32
    region: String[8]
    meter_rotated_at: uint64


# @dev Number of sites registered; site ids run from 1 to `site_count`.
site_count: public(uint256)

# @dev Packed (meter, max GPU watts, status) per site, one storage slot.
_meter_word: HashMap[uint256, uint256]

# @dev The rest of each site's record.
_info: HashMap[uint256, SiteInfo]

# @dev Where each site's worker serves results (http or https URL; empty: none).
endpoint_of: public(HashMap[uint256, String[MAX_ENDPOINT_BYTES]])


# @dev Emitted when an owner registers a new site (status PENDING).
event SiteRegistered:
    site_id: indexed(uint256)
    owner: indexed(address)
    meter: address
    pv_peak_watts: uint32
    battery_wh: uint32
    max_gpu_watts: uint32
    region: String[8]

# @dev Emitted on every status change.
event SiteStatusChanged:
    site_id: indexed(uint256)
    status: ISiteRegistry.SiteStatus
    registrar: indexed(address)

# @dev Emitted when an owner replaces the meter signing key.
event MeterRotated:
    site_id: indexed(uint256)
    old_meter: address
    new_meter: address


# @dev Emitted when an owner publishes or clears the site's result endpoint.
event EndpointSet:
    site_id: indexed(uint256)
    endpoint: String[MAX_ENDPOINT_BYTES]


@deploy
def __init__():
    """
    @dev The deployer receives DEFAULT_ADMIN_ROLE and REGISTRAR_ROLE.
    """
    access_control.__init__()
    access_control._grant_role(REGISTRAR_ROLE, msg.sender)


@external
def register_site(
    meter: address, pv_peak_watts: uint32, battery_wh: uint32, max_gpu_watts: uint32, region: String[8]
) -> uint256:
    """
    @notice Registers a DER site owned by the caller; it stays PENDING
            until the registrar activates it.
    @param meter The address whose key signs the site's energy receipts.
    @param pv_peak_watts The PV array's peak power in watts.
    @param battery_wh The battery's capacity in watt-hours (0: none).
    @param max_gpu_watts The most the site's GPU can draw, in watts.
    @param region A region code, e.g. an ISO 3166 code such as "BR".
    @return uint256 The new site id.
    """
    assert meter != empty(address), "registry: meter is zero"
    assert pv_peak_watts > 0 and convert(pv_peak_watts, uint256) <= MAX_WATTS, "registry: pv peak out of range"
    assert convert(battery_wh, uint256) <= MAX_BATTERY_WH, "registry: battery out of range"
    assert max_gpu_watts > 0 and convert(max_gpu_watts, uint256) <= MAX_WATTS, "registry: gpu watts out of range"
    assert len(region) >= 2, "registry: region too short"

    site_id: uint256 = self.site_count + 1
    self.site_count = site_id
    self._info[site_id] = SiteInfo(
        owner=msg.sender,
        pv_peak_watts=pv_peak_watts,
        battery_wh=battery_wh,
        region=region,
        meter_rotated_at=0,
    )
    self._meter_word[site_id] = self._pack(meter, max_gpu_watts, ISiteRegistry.SiteStatus.PENDING)
    log SiteRegistered(
        site_id=site_id,
        owner=msg.sender,
        meter=meter,
        pv_peak_watts=pv_peak_watts,
        battery_wh=battery_wh,
        max_gpu_watts=max_gpu_watts,
        region=region,
    )
    return site_id


@external
def activate(site_id: uint256):
    """
    @notice Lets a PENDING or SUSPENDED site trade. Registrar only.
    @param site_id The site to activate.
    """
    access_control._check_role(REGISTRAR_ROLE, msg.sender)
    self._set_status(site_id, ISiteRegistry.SiteStatus.PENDING | ISiteRegistry.SiteStatus.SUSPENDED, ISiteRegistry.SiteStatus.ACTIVE)


@external
def suspend(site_id: uint256):
    """
    @notice Stops a PENDING or ACTIVE site from trading. Registrar only.
    @param site_id The site to suspend.
    """
    access_control._check_role(REGISTRAR_ROLE, msg.sender)
    self._set_status(site_id, ISiteRegistry.SiteStatus.PENDING | ISiteRegistry.SiteStatus.ACTIVE, ISiteRegistry.SiteStatus.SUSPENDED)


@external
def rotate_meter(site_id: uint256, new_meter: address):
    """
    @notice Replaces the site's meter signing key. Owner only. Takes effect
            at once: deliveries from now on must be signed by `new_meter`.
    @param site_id The site.
    @param new_meter The new meter signing address.
    """
    assert self._info[site_id].owner == msg.sender, "registry: not site owner"
    assert new_meter != empty(address), "registry: meter is zero"
    meter: address = empty(address)
    gpu: uint32 = 0
    status: ISiteRegistry.SiteStatus = empty(ISiteRegistry.SiteStatus)
    meter, gpu, status = self._unpack(self._meter_word[site_id])
    assert new_meter != meter, "registry: same meter"
    self._meter_word[site_id] = self._pack(new_meter, gpu, status)
    self._info[site_id].meter_rotated_at = convert(block.timestamp, uint64)
    log MeterRotated(site_id=site_id, old_meter=meter, new_meter=new_meter)


@external
def set_endpoint(site_id: uint256, endpoint: String[MAX_ENDPOINT_BYTES]):
    """
    @notice Publishes the URL where the site's worker serves results to
            requesters and the arbiter. Owner only. An http:// or https://
            URL, or empty to clear it.
    @param site_id The site.
    @param endpoint The base URL, e.g. "https://gpu.example.org:8700".
    """
    assert self._info[site_id].owner == msg.sender, "registry: not site owner"
    if len(endpoint) > 0:
        assert web_urls._is_web_url(endpoint), "registry: endpoint not http(s)"
    self.endpoint_of[site_id] = endpoint
    log EndpointSet(site_id=site_id, endpoint=endpoint)


@view
@external
def site(site_id: uint256) -> ISiteRegistry.Site:
    """
    @notice The full record of a site (all fields zero for unknown ids).
    @param site_id The site.
    @return Site The site's record.
    """
    info: SiteInfo = self._info[site_id]
    meter: address = empty(address)
    gpu: uint32 = 0
    status: ISiteRegistry.SiteStatus = empty(ISiteRegistry.SiteStatus)
    meter, gpu, status = self._unpack(self._meter_word[site_id])
    return ISiteRegistry.Site(
        owner=info.owner,
        meter=meter,
        pv_peak_watts=info.pv_peak_watts,
        battery_wh=info.battery_wh,
        max_gpu_watts=gpu,
        region=info.region,
        status=status,
        meter_rotated_at=info.meter_rotated_at,
    )


@view
@external
def owner_of(site_id: uint256) -> address:
    """
    @notice The owner of a site (zero for unknown ids).
    @param site_id The site.
    @return address The owner.
    """
    return self._info[site_id].owner


@view
@external
def is_active(site_id: uint256) -> bool:
    """
    @notice Whether the site may trade now.
    @param site_id The site.
    @return bool True when ACTIVE.
    """
    return self._is_active(site_id)


@view
@external
def meter_of(site_id: uint256) -> (address, uint256, bool):
    """
    @notice What a delivery needs to know, in one storage read.
    @param site_id The site.
    @return address The current meter signing key.
    @return uint256 The site's maximum GPU draw in watts.
    @return bool Whether the site is ACTIVE.
    """
    meter: address = empty(address)
    gpu: uint32 = 0
    status: ISiteRegistry.SiteStatus = empty(ISiteRegistry.SiteStatus)
    meter, gpu, status = self._unpack(self._meter_word[site_id])
    return meter, convert(gpu, uint256), status == ISiteRegistry.SiteStatus.ACTIVE


@view
@external
def issuance_limits(site_id: uint256) -> (address, uint256, bool):
    """
    @notice What REC issuance needs to know about a site.
    @param site_id The site.
    @return address The owner, who receives the RECs.
    @return uint256 The PV array's peak power in watts.
    @return bool Whether the site is ACTIVE.
    """
    return self._info[site_id].owner, convert(self._info[site_id].pv_peak_watts, uint256), self._is_active(site_id)


@internal
def _set_status(site_id: uint256, allowed_from: ISiteRegistry.SiteStatus, to: ISiteRegistry.SiteStatus):
    """
    @dev Moves a site to `to` when its current status is in `allowed_from`.
    """
    meter: address = empty(address)
    gpu: uint32 = 0
    status: ISiteRegistry.SiteStatus = empty(ISiteRegistry.SiteStatus)
    meter, gpu, status = self._unpack(self._meter_word[site_id])
    assert status in allowed_from, "registry: bad site status"
    self._meter_word[site_id] = self._pack(meter, gpu, to)
    log SiteStatusChanged(site_id=site_id, status=to, registrar=msg.sender)


@view
@internal
def _is_active(site_id: uint256) -> bool:
    return (self._meter_word[site_id] >> _STATUS_SHIFT) == convert(ISiteRegistry.SiteStatus.ACTIVE, uint256)


@internal
@pure
def _pack(meter: address, max_gpu_watts: uint32, status: ISiteRegistry.SiteStatus) -> uint256:
    return (
        convert(meter, uint256)
        | (convert(max_gpu_watts, uint256) << _GPU_SHIFT)
        | (convert(status, uint256) << _STATUS_SHIFT)
    )


@internal
@pure
def _unpack(word: uint256) -> (address, uint32, ISiteRegistry.SiteStatus):
    return (
        convert(convert(word % 2**160, uint160), address),
        convert((word >> _GPU_SHIFT) % 2**32, uint32),
        convert(word >> _STATUS_SHIFT, ISiteRegistry.SiteStatus),
    )
