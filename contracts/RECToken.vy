# pragma version ~=0.4.3
"""
@title RECToken
@custom:contract-name RECToken
@license GNU Affero General Public License v3.0 only
@notice Renewable Energy Certificates as a fungible token: 6 decimals,
        1 unit = 1 mWh, so 1 REC = 1 kWh. The issuer (the operator's oracle)
        issues RECs to a site's owner for a closed period of metered
        generation, after checking the site's signed meter samples; the
        Merkle root of those samples is recorded as the issuance's evidence.
        A site's periods never overlap and never claim more energy than its
        PV array can produce. Retiring burns RECs for good and mints a
        soulbound RetirementCertificate to the beneficiary. Dissipating
        burns RECs with no certificate and no beneficiary: energy lost in
        storage (the EnergyPool's REC reserve decays this way). These are
        the only two ways RECs leave the supply, so
        total_issued - total_retired - total_dissipated == totalSupply.
@custom:kill Revoke ISSUER_ROLE from every account: no RECs can be issued.
             Existing RECs stay transferable and retirable (a holder's
             certificates must remain honourable).
"""


# @dev The site registry (owners, PV peak, status) and the certificates.
from .interfaces import ISiteRegistry
from .interfaces import IRetirementCertificate

# @dev Roles: admin and issuer.
from snekmate.auth import access_control
initializes: access_control

# @dev snekmate's ERC-20 needs an owner; this token has no owner powers exported.
from snekmate.auth import ownable
initializes: ownable

# @dev ERC-20 + EIP-2612; only `issue` mints and only retirement burns.
from snekmate.tokens import erc20
initializes: erc20[ownable := ownable]

# @dev The deployer gives up the owner and minter powers snekmate grants it.
from .modules import ownerless
initializes: ownerless[ownable := ownable, erc20 := erc20]

exports: (
    access_control.__interface__,
    erc20.transfer,
    erc20.transferFrom,
    erc20.approve,
    erc20.balanceOf,
    erc20.allowance,
    erc20.totalSupply,
    erc20.name,
    erc20.symbol,
    erc20.decimals,
    erc20.permit,
    erc20.nonces,
    erc20.DOMAIN_SEPARATOR,
    erc20.eip712Domain,
)


# @dev The role that issues RECs against verified meter data.
ISSUER_ROLE: public(constant(bytes32)) = keccak256("ISSUER_ROLE")
# @dev The role that may name a job on a certificate: the JobMarket.
MARKET_ROLE: public(constant(bytes32)) = keccak256("MARKET_ROLE")
# @dev The longest period one issuance may cover.
MAX_PERIOD: public(constant(uint256)) = 31 * 86400
# @dev The most issuances in one batch.
MAX_BATCH: public(constant(uint256)) = 128
# @dev Bit layout of an issuance word: site id (64 bits) | period start (40)
# | period end (40) | issued at (40) | energy mWh (72).
_START_SHIFT: constant(uint256) = 64
_END_SHIFT: constant(uint256) = 104
_ISSUED_SHIFT: constant(uint256) = 144
_ENERGY_SHIFT: constant(uint256) = 184
# @dev Bit layout of a site word: high-water mark (40 bits) | energy issued.
_ISSUED_TOTAL_SHIFT: constant(uint256) = 40


# @dev The site registry and the certificate contract.
SITE_REGISTRY: public(immutable(ISiteRegistry))
CERTIFICATE: public(immutable(IRetirementCertificate))
# @dev The smallest retirement, in mWh.
MIN_RETIREMENT_MWH: public(immutable(uint256))


# @dev One period of one site's generation, as the issuer submits it.
struct IssuanceRequest:
    site_id: uint256
    period_start: uint256
    period_end: uint256
    energy_mwh: uint256
    evidence_root: bytes32


# @dev An issuance as recorded.
struct Issuance:
    site_id: uint256
    period_start: uint256
    period_end: uint256
    energy_mwh: uint256
    issued_at: uint256


# @dev Number of issuances; ids run from 1.
issuance_count: public(uint256)
# @dev Every mWh ever issued.
total_issued: public(uint256)
# @dev Every mWh ever retired (dissipated RECs are not retired: nobody claims them).
total_retired: public(uint256)
# @dev Per issuance: the packed word. The evidence root lives in the Issued
# event only: no rule reads it on chain, and storing it would cost every
# site-period another 22,100 gas.
_issuance_word: HashMap[uint256, uint256]
# @dev Per site: high-water mark (end of its last issued period) | energy issued.
_site_word: HashMap[uint256, uint256]


# @dev RECs were issued for one site-period.
event Issued:
    issuance_id: indexed(uint256)
    site_id: indexed(uint256)
    owner: indexed(address)
    period_start: uint256
    period_end: uint256
    energy_mwh: uint256
    evidence_root: bytes32

# @dev RECs were retired and a certificate minted.
event Retired:
    certificate_id: indexed(uint256)
    retired_by: indexed(address)
    beneficiary: indexed(address)
    amount_mwh: uint256
    job_id: uint256

# @dev RECs were burned with no certificate (energy lost in storage).
event Dissipated:
    holder: indexed(address)
    amount_mwh: uint256


@deploy
def __init__(site_registry_: ISiteRegistry, certificate_: IRetirementCertificate, min_retirement_mwh_: uint256):
    """
    @dev The deployer receives DEFAULT_ADMIN_ROLE and ISSUER_ROLE. The
         certificate contract must name this token as its minter.
    @param site_registry_ The site registry.
    @param certificate_ The RetirementCertificate contract.
    @param min_retirement_mwh_ The smallest retirement, in mWh (at least 1).
    """
    assert min_retirement_mwh_ > 0, "rec: zero minimum"
    access_control.__init__()
    access_control._grant_role(ISSUER_ROLE, msg.sender)
    ownable.__init__()
    # snekmate makes the deployer a minter, but `mint` is not exported: only `issue` mints.
    erc20.__init__("DeGEN REC", "REC", 6, "RECToken", "1")
    ownerless._give_up_deployer_powers()
    SITE_REGISTRY = site_registry_
    CERTIFICATE = certificate_
    MIN_RETIREMENT_MWH = min_retirement_mwh_


@external
def issue(
    site_id: uint256, period_start: uint256, period_end: uint256, energy_mwh: uint256, evidence_root: bytes32
) -> uint256:
    """
    @notice Issues `energy_mwh` RECs to the owner of an ACTIVE site for a
            closed period. Issuer only. The period must start at or after the
            end of the site's last issued period and be at most 31 days long,
            and the energy must fit the site's PV peak over the period.
    @param site_id The site.
    @param period_start Start of the period (unix seconds, inclusive).
    @param period_end End of the period (exclusive), not in the future.
    @param energy_mwh Generated energy in mWh.
    @param evidence_root Merkle root of the signed meter samples.
    @return uint256 The issuance id.
    """
    access_control._check_role(ISSUER_ROLE, msg.sender)
    return self._issue(IssuanceRequest(
        site_id=site_id, period_start=period_start, period_end=period_end,
        energy_mwh=energy_mwh, evidence_root=evidence_root,
    ))


@external
def issue_batch(requests: DynArray[IssuanceRequest, MAX_BATCH]) -> DynArray[uint256, MAX_BATCH]:
    """
    @notice Issues many site-periods in one transaction, under the same
            rules as `issue`; any bad request reverts the whole batch.
    @param requests The site-periods.
    @return DynArray The issuance ids, in order.
    """
    access_control._check_role(ISSUER_ROLE, msg.sender)
    ids: DynArray[uint256, MAX_BATCH] = []
    for request: IssuanceRequest in requests:
        ids.append(self._issue(request))
    return ids


@external
def retire(amount_mwh: uint256, beneficiary: address, beneficiary_name: String[64], reason: String[128]) -> uint256:
    """
    @notice Burns the caller's RECs and mints a soulbound certificate to
            `beneficiary` recording the retirement (with no job: only the
            JobMarket names a job, through `retire_for_job`).
    @param amount_mwh mWh to retire, at least MIN_RETIREMENT_MWH.
    @param beneficiary Who the green claim is for (owns the certificate).
    @param beneficiary_name A readable name (optional; printable ASCII, no quotes or backslashes).
    @param reason What the energy offsets (optional; printable ASCII, no quotes or backslashes).
    @return uint256 The certificate id.
    """
    return self._retire(msg.sender, amount_mwh, beneficiary, beneficiary_name, reason, 0, 0, empty(bytes32))


@external
def retire_from(
    owner: address, amount_mwh: uint256, beneficiary: address, beneficiary_name: String[64], reason: String[128]
) -> uint256:
    """
    @notice Like `retire`, burning `owner`'s RECs under the caller's allowance.
    @param owner Whose RECs are retired (recorded as the retiring account).
    @param amount_mwh mWh to retire, at least MIN_RETIREMENT_MWH.
    @param beneficiary Who the green claim is for.
    @param beneficiary_name A readable name (optional).
    @param reason What the energy offsets (optional).
    @return uint256 The certificate id.
    """
    erc20._spend_allowance(owner, msg.sender, amount_mwh)
    return self._retire(owner, amount_mwh, beneficiary, beneficiary_name, reason, 0, 0, empty(bytes32))


@external
def retire_for_job(provider: address, amount_mwh: uint256, beneficiary: address, job_id: uint256) -> uint256:
    """
    @notice The JobMarket retires a provider's RECs for a green job's metered
            energy, under the provider's allowance, with the job id on the
            certificate. MARKET_ROLE only: a certificate names a job only
            when the market retired exactly that delivery's energy for the
            job's certificate beneficiary.
    @param provider Whose RECs are retired (recorded as the retiring account).
    @param amount_mwh The delivery's metered energy, mWh.
    @param beneficiary The job's certificate beneficiary.
    @param job_id The job.
    @return uint256 The certificate id.
    """
    access_control._check_role(MARKET_ROLE, msg.sender)
    assert job_id > 0, "rec: zero job id"
    erc20._spend_allowance(provider, msg.sender, amount_mwh)
    return self._retire(provider, amount_mwh, beneficiary, "", "", job_id, 0, empty(bytes32))


@external
def retire_for_channel(
    provider: address, amount_mwh: uint256, beneficiary: address, channel_id: uint256, receipts_root: bytes32
) -> uint256:
    """
    @notice JobChannels retires a provider's RECs for the green energy a
            redeemed voucher adds, under the provider's allowance, on one
            certificate naming the channel and the root of the jobs'
            receipts. MARKET_ROLE only.
    @param provider Whose RECs are retired (recorded as the retiring account).
    @param amount_mwh The green energy the voucher adds, mWh.
    @param beneficiary The channel's certificate beneficiary.
    @param channel_id The channel.
    @param receipts_root The root of the receipts of the jobs the voucher covers.
    @return uint256 The certificate id.
    """
    access_control._check_role(MARKET_ROLE, msg.sender)
    assert channel_id > 0, "rec: zero channel id"
    erc20._spend_allowance(provider, msg.sender, amount_mwh)
    return self._retire(provider, amount_mwh, beneficiary, "", "", 0, channel_id, receipts_root)


@external
def dissipate(amount_mwh: uint256):
    """
    @notice Burns the caller's RECs without a certificate: energy that was
            lost, claimed by nobody. The EnergyPool burns its decayed REC
            reserve this way; anyone may dissipate their own RECs.
    @param amount_mwh mWh to burn, more than zero.
    """
    assert amount_mwh > 0, "rec: zero dissipation"
    erc20._burn(msg.sender, amount_mwh)
    log Dissipated(holder=msg.sender, amount_mwh=amount_mwh)


@view
@external
def total_dissipated() -> uint256:
    """
    @notice Every mWh ever dissipated (derived: retirement and dissipation
            are the only burns, so it costs the pool no storage write).
    @return uint256 mWh.
    """
    return self.total_issued - self.total_retired - erc20.totalSupply


@view
@external
def site_issued(site_id: uint256) -> uint256:
    """
    @notice Every mWh ever issued to a site.
    @param site_id The site.
    @return uint256 mWh.
    """
    return self._site_word[site_id] >> _ISSUED_TOTAL_SHIFT


@view
@external
def high_water_mark(site_id: uint256) -> uint256:
    """
    @notice The end of the site's last issued period: the next must start here or later.
    @param site_id The site.
    @return uint256 Unix seconds (0: never issued).
    """
    return self._site_word[site_id] % 2**_ISSUED_TOTAL_SHIFT


@view
@external
def issuance(issuance_id: uint256) -> Issuance:
    """
    @notice An issuance record (zero for unknown ids); its evidence root is in
            the Issued event of the same id.
    @param issuance_id The issuance.
    @return Issuance The record.
    """
    word: uint256 = self._issuance_word[issuance_id]
    return Issuance(
        site_id=word % 2**_START_SHIFT,
        period_start=(word >> _START_SHIFT) % 2**40,
        period_end=(word >> _END_SHIFT) % 2**40,
        energy_mwh=word >> _ENERGY_SHIFT,
        issued_at=(word >> _ISSUED_SHIFT) % 2**40,
    )


@internal
def _issue(request: IssuanceRequest) -> uint256:
    """
    @dev Checks one site-period, records it and mints to the site's owner.
    """
    assert request.energy_mwh > 0 and request.energy_mwh < 2**72, "rec: bad energy"
    assert request.evidence_root != empty(bytes32), "rec: empty evidence"
    assert request.period_start < request.period_end, "rec: empty period"
    assert request.period_end <= block.timestamp, "rec: period not over"
    duration: uint256 = request.period_end - request.period_start
    assert duration <= MAX_PERIOD, "rec: period too long"
    assert request.site_id < 2**64, "rec: site id too large"
    site_word: uint256 = self._site_word[request.site_id]
    assert request.period_start >= site_word % 2**_ISSUED_TOTAL_SHIFT, "rec: period overlaps"

    owner: address = empty(address)
    pv_peak_watts: uint256 = 0
    active: bool = False
    owner, pv_peak_watts, active = staticcall SITE_REGISTRY.issuance_limits(request.site_id)
    assert active, "rec: site not active"
    # mWh * 3.6 J/mWh <= W * s
    assert request.energy_mwh * 3600 <= pv_peak_watts * duration * 1000, "rec: energy above physical bound"

    issuance_id: uint256 = self.issuance_count + 1
    self.issuance_count = issuance_id
    self._issuance_word[issuance_id] = (
        request.site_id
        | (request.period_start << _START_SHIFT)
        | (request.period_end << _END_SHIFT)
        | (block.timestamp << _ISSUED_SHIFT)
        | (request.energy_mwh << _ENERGY_SHIFT)
    )
    issued_to_site: uint256 = (site_word >> _ISSUED_TOTAL_SHIFT) + request.energy_mwh
    self._site_word[request.site_id] = request.period_end | (issued_to_site << _ISSUED_TOTAL_SHIFT)
    self.total_issued += request.energy_mwh
    erc20._mint(owner, request.energy_mwh)
    log Issued(
        issuance_id=issuance_id,
        site_id=request.site_id,
        owner=owner,
        period_start=request.period_start,
        period_end=request.period_end,
        energy_mwh=request.energy_mwh,
        evidence_root=request.evidence_root,
    )
    return issuance_id


@internal
def _retire(
    owner: address,
    amount_mwh: uint256,
    beneficiary: address,
    beneficiary_name: String[64],
    reason: String[128],
    job_id: uint256,
    channel_id: uint256,
    receipts_root: bytes32,
) -> uint256:
    assert amount_mwh >= MIN_RETIREMENT_MWH, "rec: below minimum retirement"
    erc20._burn(owner, amount_mwh)
    self.total_retired += amount_mwh
    certificate_id: uint256 = extcall CERTIFICATE.mint(
        beneficiary, amount_mwh, owner, job_id, channel_id, receipts_root, beneficiary_name, reason
    )
    log Retired(
        certificate_id=certificate_id, retired_by=owner, beneficiary=beneficiary, amount_mwh=amount_mwh, job_id=job_id
    )
    return certificate_id
