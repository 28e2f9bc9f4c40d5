# pragma version ~=0.4.3
"""
@title OracleCommittee
@custom:contract-name OracleCommittee
@license GNU Affero General Public License v3.0 only
@notice The trust layer: `n` independent oracle members, each with an AKRE
        bond and an HTTP endpoint, of whom `threshold` (k > n / 2) must sign
        the same EIP-712 report before RECs are issued, a site is activated
        or suspended, or a dispute is decided. The committee holds the
        issuer (RECToken), registrar (SiteRegistry) and arbiter (JobMarket)
        roles; nobody else needs them. Anyone may submit a report: signers
        strictly ascending, each a current member, each signature canonical
        (65 bytes, low s). Every report names the committee's configuration
        count, so a report signed before a membership or threshold change
        is refused after it. A member that signs two different answers to
        one question (one site-period, one site decision, one job's
        verdict) can be proven to have done so by anyone: half its bond goes
        to the prover, the rest to the treasury, and it leaves the
        committee. Membership, the threshold and the minimum bond change
        only through the admin: a timelock (snekmate's TimelockController),
        so users see a change coming before it lands.
@custom:kill The admin (the timelock) removes every member: no report can
             reach a threshold, so no RECs, site decisions or verdicts pass;
             the roles can then be granted to a new committee through the
             contracts' own (timelocked) admins.
"""


# @dev AKRE bonds in and out.
from ethereum.ercs import IERC20

# @dev What the committee acts on, and its own public interface.
from .interfaces import IRECToken
from .interfaces import ISiteRegistry
from .interfaces import IJobMarket
from .interfaces import IOracleCommittee
implements: IOracleCommittee

# @dev The EIP-712 domain of reports ("DeGEN committee", "1").
from snekmate.utils import eip712_domain_separator
initializes: eip712_domain_separator

# @dev Signature recovery (rejects malleable `s` values).
from snekmate.utils import ecdsa

# @dev What an endpoint may be.
from .modules import web_urls

exports: eip712_domain_separator.eip712Domain


# @dev Bounds: the most members, and the most site-periods in one report (RECToken's batch).
MAX_MEMBERS: public(constant(uint256)) = 31
MAX_BATCH: public(constant(uint256)) = 128
MAX_ENDPOINT_BYTES: public(constant(uint256)) = 128
# @dev The prover's share of a slashed bond, in basis points (the rest goes to the treasury).
PROVER_SHARE_BPS: public(constant(uint256)) = 5000

# @dev EIP-712 type hashes of the reports the members sign.
ISSUANCE_REQUEST_TYPEHASH: public(constant(bytes32)) = keccak256(
    "IssuanceRequest(uint256 site_id,uint256 period_start,uint256 period_end,uint256 energy_mwh,bytes32 evidence_root)"
)
ISSUANCE_REPORT_TYPEHASH: public(constant(bytes32)) = keccak256(
    "IssuanceReport(uint256 config,IssuanceRequest[] requests)IssuanceRequest(uint256 site_id,uint256 period_start,uint256 period_end,uint256 energy_mwh,bytes32 evidence_root)"
)
SITE_REPORT_TYPEHASH: public(constant(bytes32)) = keccak256(
    "SiteReport(uint256 config,uint256 site_id,uint256 nonce,bool active,address meter,uint256 pv_peak_watts,uint256 battery_wh,uint256 max_gpu_watts)"
)
VERDICT_REPORT_TYPEHASH: public(constant(bytes32)) = keccak256(
    "VerdictReport(uint256 config,uint256 job_id,bool provider_wins)"
)


# @dev The contracts the committee acts on, the bond token and where slashed bonds go.
REC_TOKEN: public(immutable(IRECToken))
SITE_REGISTRY: public(immutable(ISiteRegistry))
MARKET: public(immutable(IJobMarket))
BOND_TOKEN: public(immutable(IERC20))
TREASURY: public(immutable(address))
# @dev Seconds a member's bond stays locked after it leaves (equivocation can still be proven meanwhile).
BOND_LOCK: public(immutable(uint256))


# @dev Who may change membership, the threshold and the minimum bond: the timelock.
admin: public(address)
# @dev The current members, in the order they joined.
_members: DynArray[address, MAX_MEMBERS]
# @dev Reports need this many distinct member signatures.
threshold: public(uint256)
# @dev Bumped at every change of members or threshold; every report names it.
config_count: public(uint256)
# @dev The least bond a member must hold to join.
min_bond: public(uint256)
# @dev AKRE each address holds here as a bond.
bond_of: public(HashMap[address, uint256])
# @dev Where each member serves its API (peers and site agents reach it there).
endpoint_of: public(HashMap[address, String[MAX_ENDPOINT_BYTES]])
# @dev When an address last left the committee (its bond is locked until BOND_LOCK after).
left_at: public(HashMap[address, uint256])
# @dev Per site: the nonce its next site report must carry.
site_nonce: public(HashMap[uint256, uint256])
# @dev Per member: 1 + its index in `_members`; 0 for non-members.
_position: HashMap[address, uint256]


# @dev A report reached its threshold and took effect: which, on what, and who signed it.
event ReportAccepted:
    kind: indexed(uint8)
    subject: indexed(uint256)
    digest: bytes32
    config: uint256
    signers: DynArray[address, MAX_MEMBERS]

# @dev The committee changed (members or threshold); reports must name the new config.
event ConfigChanged:
    config: indexed(uint256)
    members: DynArray[address, MAX_MEMBERS]
    threshold: uint256

# @dev A member's endpoint changed.
event EndpointSet:
    member: indexed(address)
    endpoint: String[MAX_ENDPOINT_BYTES]

# @dev Bonds moved in (paid by the member or a sponsor) and out.
event BondPosted:
    member: indexed(address)
    payer: indexed(address)
    amount: uint256

event BondWithdrawn:
    member: indexed(address)
    amount: uint256

# @dev A member signed two answers to one question; its bond was taken and it left.
event Equivocated:
    member: indexed(address)
    prover: indexed(address)
    kind: indexed(uint8)
    subject: uint256
    to_prover: uint256
    to_treasury: uint256

# @dev The minimum bond and the admin changed.
event MinBondSet:
    min_bond: uint256

event AdminTransferred:
    previous: indexed(address)
    admin: indexed(address)


# @dev Report kinds, as `ReportAccepted.kind` and `Equivocated.kind` name them.
ISSUANCE: public(constant(uint8)) = 1
SITE: public(constant(uint8)) = 2
VERDICT: public(constant(uint8)) = 3


@deploy
def __init__(
    rec_token_: IRECToken,
    site_registry_: ISiteRegistry,
    market_: IJobMarket,
    bond_token_: IERC20,
    treasury_: address,
    admin_: address,
    min_bond_: uint256,
    bond_lock_: uint256,
):
    """
    @dev An empty committee: the admin adds members (`add_member`).
    @param rec_token_ The RECToken whose ISSUER_ROLE the committee holds.
    @param site_registry_ The SiteRegistry whose REGISTRAR_ROLE it holds.
    @param market_ The JobMarket whose ARBITER_ROLE it holds.
    @param bond_token_ The token of the members' bonds (AKRE).
    @param treasury_ Where the unrewarded half of a slashed bond goes.
    @param admin_ Who changes membership: the timelock.
    @param min_bond_ The least bond a member must hold to join.
    @param bond_lock_ Seconds a leaving member's bond stays locked.
    """
    eip712_domain_separator.__init__("DeGEN committee", "1")
    assert admin_ != empty(address) and treasury_ != empty(address), "committee: zero address"
    REC_TOKEN = rec_token_
    SITE_REGISTRY = site_registry_
    MARKET = market_
    BOND_TOKEN = bond_token_
    TREASURY = treasury_
    BOND_LOCK = bond_lock_
    self.admin = admin_
    self.min_bond = min_bond_
    log MinBondSet(min_bond=min_bond_)
    log AdminTransferred(previous=empty(address), admin=admin_)


# ---- reports ------------------------------------------------------------------------------

@external
def issue(report: IOracleCommittee.IssuanceReport, signatures: DynArray[Bytes[65], MAX_MEMBERS]) -> DynArray[uint256, MAX_BATCH]:
    """
    @notice Issues the report's site-periods (RECToken.issue_batch, under
            its rules) once `threshold` members signed it. Anyone may submit.
    @param report The configuration count and the site-periods.
    @param signatures The members' signatures, signers strictly ascending.
    @return DynArray The issuance ids, in order.
    """
    assert len(report.requests) > 0, "committee: empty report"
    digest: bytes32 = self._issuance_digest(report)
    signers: DynArray[address, MAX_MEMBERS] = self._attested(report.config, digest, signatures)
    ids: DynArray[uint256, MAX_BATCH] = extcall REC_TOKEN.issue_batch(report.requests)
    log ReportAccepted(kind=ISSUANCE, subject=ids[0], digest=digest, config=report.config, signers=signers)
    return ids


@external
def decide_site(report: IOracleCommittee.SiteReport, signatures: DynArray[Bytes[65], MAX_MEMBERS]):
    """
    @notice Activates (`active`) or suspends a site once `threshold` members
            signed it, if the registry holds exactly the meter key and limits
            the report names (members attest to what is registered). Each
            report carries the site's nonce, so none is replayed.
    @param report The configuration count, the site, its nonce, the decision
           and what the members checked.
    @param signatures The members' signatures, signers strictly ascending.
    """
    digest: bytes32 = self._site_digest(report)
    signers: DynArray[address, MAX_MEMBERS] = self._attested(report.config, digest, signatures)
    assert report.nonce == self.site_nonce[report.site_id], "committee: stale site nonce"
    site: ISiteRegistry.Site = staticcall SITE_REGISTRY.site(report.site_id)
    assert site.meter == report.meter, "committee: meter key differs"
    assert convert(site.pv_peak_watts, uint256) == report.pv_peak_watts and convert(site.battery_wh, uint256) == report.battery_wh \
        and convert(site.max_gpu_watts, uint256) == report.max_gpu_watts, "committee: limits differ"
    self.site_nonce[report.site_id] = report.nonce + 1
    if report.active:
        extcall SITE_REGISTRY.activate(report.site_id)
    else:
        extcall SITE_REGISTRY.suspend(report.site_id)
    log ReportAccepted(kind=SITE, subject=report.site_id, digest=digest, config=report.config, signers=signers)


@external
def resolve(report: IOracleCommittee.VerdictReport, signatures: DynArray[Bytes[65], MAX_MEMBERS]):
    """
    @notice Decides a dispute (JobMarket.resolve) once `threshold` members
            signed the verdict.
    @param report The configuration count, the job and the verdict.
    @param signatures The members' signatures, signers strictly ascending.
    """
    digest: bytes32 = self._verdict_digest(report)
    signers: DynArray[address, MAX_MEMBERS] = self._attested(report.config, digest, signatures)
    extcall MARKET.resolve(report.job_id, report.provider_wins)
    log ReportAccepted(kind=VERDICT, subject=report.job_id, digest=digest, config=report.config, signers=signers)


# ---- equivocation -------------------------------------------------------------------------

@external
def prove_issuance_equivocation(
    first: IOracleCommittee.IssuanceReport, first_signature: Bytes[65], first_index: uint256,
    second: IOracleCommittee.IssuanceReport, second_signature: Bytes[65], second_index: uint256,
):
    """
    @notice Slashes a member that signed two issuance reports naming one
            site-period (same site and period start) with different answers
            (period end, energy or evidence root).
    @param first One signed report, its signature and the request's index.
    @param second The other, its signature and the request's index.
    """
    a: IRECToken.IssuanceRequest = first.requests[first_index]
    b: IRECToken.IssuanceRequest = second.requests[second_index]
    assert a.site_id == b.site_id and a.period_start == b.period_start, "committee: not one question"
    assert a.period_end != b.period_end or a.energy_mwh != b.energy_mwh or a.evidence_root != b.evidence_root, \
        "committee: same answer"
    self._slash_signer(self._issuance_digest(first), first_signature, self._issuance_digest(second), second_signature,
                       ISSUANCE, a.site_id)


@external
def prove_site_equivocation(
    first: IOracleCommittee.SiteReport, first_signature: Bytes[65],
    second: IOracleCommittee.SiteReport, second_signature: Bytes[65],
):
    """
    @notice Slashes a member that signed two different decisions for one
            site and nonce.
    @param first One signed report and its signature.
    @param second The other and its signature.
    """
    assert first.site_id == second.site_id and first.nonce == second.nonce, "committee: not one question"
    assert first.active != second.active or first.meter != second.meter or first.pv_peak_watts != second.pv_peak_watts \
        or first.battery_wh != second.battery_wh or first.max_gpu_watts != second.max_gpu_watts, "committee: same answer"
    self._slash_signer(self._site_digest(first), first_signature, self._site_digest(second), second_signature, SITE,
                       first.site_id)


@external
def prove_verdict_equivocation(
    first: IOracleCommittee.VerdictReport, first_signature: Bytes[65],
    second: IOracleCommittee.VerdictReport, second_signature: Bytes[65],
):
    """
    @notice Slashes a member that signed both verdicts for one job.
    @param first One signed verdict and its signature.
    @param second The other and its signature.
    """
    assert first.job_id == second.job_id, "committee: not one question"
    assert first.provider_wins != second.provider_wins, "committee: same answer"
    self._slash_signer(self._verdict_digest(first), first_signature, self._verdict_digest(second), second_signature,
                       VERDICT, first.job_id)


# ---- bonds and endpoints ------------------------------------------------------------------

@external
def post_bond(amount: uint256):
    """
    @notice Adds `amount` AKRE (approved to the committee) to the caller's bond.
    @param amount AKRE base units.
    """
    self._post_bond(msg.sender, amount)


@external
def post_bond_for(member: address, amount: uint256):
    """
    @notice Adds `amount` of the caller's AKRE (approved to the committee) to
            `member`'s bond: a sponsor (the operator deploying a committee)
            bonds a member. The bond is the member's: only it withdraws it.
    @param member Whose bond grows.
    @param amount AKRE base units.
    """
    assert member != empty(address), "committee: zero address"
    self._post_bond(member, amount)


@external
def withdraw_bond(amount: uint256):
    """
    @notice Sends `amount` of the caller's bond back: never a member's, and
            a former member's only BOND_LOCK seconds after it left.
    @param amount AKRE base units.
    """
    assert self._position[msg.sender] == 0, "committee: member bond locked"
    assert block.timestamp >= self.left_at[msg.sender] + BOND_LOCK or self.left_at[msg.sender] == 0, "committee: bond still locked"
    assert 0 < amount and amount <= self.bond_of[msg.sender], "committee: bad amount"
    self.bond_of[msg.sender] -= amount
    assert extcall BOND_TOKEN.transfer(msg.sender, amount, default_return_value=True), "committee: transfer failed"
    log BondWithdrawn(member=msg.sender, amount=amount)


@external
def set_endpoint(endpoint: String[MAX_ENDPOINT_BYTES]):
    """
    @notice Publishes where the calling member serves its API (http or https).
    @param endpoint The URL.
    """
    assert self._position[msg.sender] != 0, "committee: not a member"
    assert web_urls._is_web_url(endpoint), "committee: endpoint not http(s)"
    self.endpoint_of[msg.sender] = endpoint
    log EndpointSet(member=msg.sender, endpoint=endpoint)


# ---- the admin's (the timelock's) ---------------------------------------------------------

@external
def add_member(member: address, endpoint: String[MAX_ENDPOINT_BYTES], threshold: uint256):
    """
    @notice Adds a member holding at least `min_bond`, with its endpoint, and
            sets the threshold the larger committee needs. Admin only.
    @param member The member's signing address.
    @param endpoint Where it serves its API.
    @param threshold The new threshold: more than half the members.
    """
    self._only_admin()
    assert member != empty(address) and self._position[member] == 0, "committee: already a member"
    assert self.bond_of[member] >= self.min_bond, "committee: bond too small"
    assert web_urls._is_web_url(endpoint), "committee: endpoint not http(s)"
    self._members.append(member)
    self._position[member] = len(self._members)
    self.endpoint_of[member] = endpoint
    log EndpointSet(member=member, endpoint=endpoint)
    self._reconfigure(threshold)


@external
def remove_member(member: address, threshold: uint256):
    """
    @notice Removes a member (its bond stays locked for BOND_LOCK) and sets
            the threshold the smaller committee needs. Admin only.
    @param member The member.
    @param threshold The new threshold: more than half the members left.
    """
    self._only_admin()
    self._remove(member)
    self._reconfigure(threshold)


@external
def set_threshold(threshold: uint256):
    """
    @notice Sets the number of signatures a report needs. Admin only.
    @param threshold More than half the members, at most all of them.
    """
    self._only_admin()
    self._reconfigure(threshold)


@external
def set_min_bond(min_bond: uint256):
    """
    @notice Sets the least bond a new member must hold. Admin only.
    @param min_bond AKRE base units.
    """
    self._only_admin()
    self.min_bond = min_bond
    log MinBondSet(min_bond=min_bond)


@external
def transfer_admin(admin: address):
    """
    @notice Hands the admin over (to a new timelock). Admin only.
    @param admin The new admin.
    """
    self._only_admin()
    assert admin != empty(address), "committee: zero address"
    log AdminTransferred(previous=self.admin, admin=admin)
    self.admin = admin


# ---- reads --------------------------------------------------------------------------------

@view
@external
def members() -> DynArray[address, MAX_MEMBERS]:
    """
    @notice The current members, in the order they joined.
    @return DynArray Their addresses.
    """
    return self._members


@view
@external
def is_member(account: address) -> bool:
    """
    @notice Whether `account` is a current member.
    @param account The address.
    @return bool True for a member.
    """
    return self._position[account] != 0


@view
@external
def issuance_digest(report: IOracleCommittee.IssuanceReport) -> bytes32:
    """
    @notice The EIP-712 digest members sign for an issuance report.
    @param report The report.
    @return bytes32 The digest.
    """
    return self._issuance_digest(report)


@view
@external
def site_digest(report: IOracleCommittee.SiteReport) -> bytes32:
    """
    @notice The EIP-712 digest members sign for a site report.
    @param report The report.
    @return bytes32 The digest.
    """
    return self._site_digest(report)


@view
@external
def verdict_digest(report: IOracleCommittee.VerdictReport) -> bytes32:
    """
    @notice The EIP-712 digest members sign for a verdict.
    @param report The report.
    @return bytes32 The digest.
    """
    return self._verdict_digest(report)


# ---- internal -----------------------------------------------------------------------------

@internal
def _post_bond(member: address, amount: uint256):
    assert amount > 0, "committee: zero amount"
    self.bond_of[member] += amount
    assert extcall BOND_TOKEN.transferFrom(msg.sender, self, amount, default_return_value=True), "committee: transfer failed"
    log BondPosted(member=member, payer=msg.sender, amount=amount)


@internal
def _only_admin():
    assert msg.sender == self.admin, "committee: not admin"


@internal
def _reconfigure(threshold: uint256):
    """
    @dev Sets the threshold (n / 2 < threshold <= n; 0 only for an empty
         committee) and starts a new configuration.
    """
    members: uint256 = len(self._members)
    assert (threshold * 2 > members and threshold <= members) or members == 0 and threshold == 0, \
        "committee: threshold not a majority"
    self.threshold = threshold
    self.config_count += 1
    log ConfigChanged(config=self.config_count, members=self._members, threshold=threshold)


@internal
def _remove(member: address):
    position: uint256 = self._position[member]
    assert position != 0, "committee: not a member"
    last: address = self._members.pop()
    if last != member:
        self._members[position - 1] = last
        self._position[last] = position
    self._position[member] = 0
    self.left_at[member] = block.timestamp


@internal
def _attested(config: uint256, digest: bytes32, signatures: DynArray[Bytes[65], MAX_MEMBERS]) -> DynArray[address, MAX_MEMBERS]:
    """
    @dev The signers of `digest`: refuses a report for another
         configuration, fewer than `threshold` signatures, a non-member, a
         signer not strictly above the one before (so none twice), and any
         signature that is not 65 canonical bytes.
    """
    assert config == self.config_count, "committee: stale config"
    assert len(signatures) >= self.threshold and self.threshold > 0, "committee: too few signatures"
    signers: DynArray[address, MAX_MEMBERS] = []
    previous: uint256 = 0
    for signature: Bytes[65] in signatures:
        signer: address = self._signer(digest, signature)
        assert convert(signer, uint256) > previous, "committee: signers not ascending"
        assert self._position[signer] != 0, "committee: signer not a member"
        previous = convert(signer, uint256)
        signers.append(signer)
    return signers


@internal
@view
def _signer(digest: bytes32, signature: Bytes[65]) -> address:
    assert len(signature) == 65, "committee: signature not 65 bytes"
    return ecdsa._recover_sig(digest, signature)


@internal
def _slash_signer(first: bytes32, first_signature: Bytes[65], second: bytes32, second_signature: Bytes[65], kind: uint8,
                  subject: uint256):
    """
    @dev Takes the bond of whoever signed both digests (a member, or one
         that left less than BOND_LOCK ago): half to the caller, the rest to
         the treasury; a member is removed and, where its leaving breaks the
         threshold, the threshold becomes the members left.
    """
    member: address = self._signer(first, first_signature)
    assert member == self._signer(second, second_signature), "committee: different signers"
    if self._position[member] != 0:
        self._remove(member)
        self._reconfigure(min(self.threshold, len(self._members)))
    bond: uint256 = self.bond_of[member]
    assert bond > 0, "committee: nothing to slash"
    self.bond_of[member] = 0
    to_prover: uint256 = bond * PROVER_SHARE_BPS // 10_000
    log Equivocated(member=member, prover=msg.sender, kind=kind, subject=subject, to_prover=to_prover, to_treasury=bond - to_prover)
    assert extcall BOND_TOKEN.transfer(msg.sender, to_prover, default_return_value=True), "committee: transfer failed"
    assert extcall BOND_TOKEN.transfer(TREASURY, bond - to_prover, default_return_value=True), "committee: transfer failed"


@internal
@view
def _issuance_digest(report: IOracleCommittee.IssuanceReport) -> bytes32:
    hashes: DynArray[bytes32, MAX_BATCH] = []
    for request: IRECToken.IssuanceRequest in report.requests:
        hashes.append(keccak256(abi_encode(ISSUANCE_REQUEST_TYPEHASH, request)))
    packed: Bytes[32 * MAX_BATCH + 64] = abi_encode(hashes)
    requests_hash: bytes32 = keccak256(slice(packed, 64, 32 * len(hashes)))
    return eip712_domain_separator._hash_typed_data_v4(keccak256(abi_encode(ISSUANCE_REPORT_TYPEHASH, report.config, requests_hash)))


@internal
@view
def _site_digest(report: IOracleCommittee.SiteReport) -> bytes32:
    return eip712_domain_separator._hash_typed_data_v4(keccak256(abi_encode(SITE_REPORT_TYPEHASH, report)))


@internal
@view
def _verdict_digest(report: IOracleCommittee.VerdictReport) -> bytes32:
    return eip712_domain_separator._hash_typed_data_v4(keccak256(abi_encode(VERDICT_REPORT_TYPEHASH, report)))
