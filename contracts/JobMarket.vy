# pragma version ~=0.4.3
"""
@title JobMarket
@custom:contract-name JobMarket
@license GNU Affero General Public License v3.0 only
@notice The DeGEN escrow market for text-to-image jobs. Providers stake
        AKRE and publish offers for their DER sites; requesters post jobs
        with their prompt and escrow `max_price`; a provider accepts
        (locking collateral from its stake), generates the image and
        delivers its hash with an EIP-712 EnergyReceipt signed by the
        site's meter key, which is checked here: signer, time window,
        physical bound and the site's monotonic meter register. Settlement
        pays `base + energy x rate` (capped at `max_price`) minus the
        protocol fee and refunds the rest, in the same transaction. A green
        job's delivery also retires the metered energy in RECs from the
        provider in the requester's name (RECToken, with the job id).
        This file holds the job state machine; stakes, offers, receipt
        verification, pricing and fees, and REC retirement are modules in
        `contracts/modules/` that it initializes and re-exports.
        See docs/SPEC.md for the state machine, roles and trust assumptions.
@custom:kill A PAUSER_ROLE holder calls `pause`: no new offers or jobs can
             be created, while every job in flight can still finish, be
             cancelled, expire or be resolved, so no funds are stranded.
             Providers withdraw their free stake at any time.
"""


# @dev The payment token (AKRE) is an ERC-20.
from ethereum.ercs import IERC20

# @dev The public interfaces of this market, the site registry and the REC token.
from .interfaces import IJobMarket
implements: IJobMarket
from .interfaces import ISiteRegistry
from .interfaces import IRECToken

# @dev Roles: admin, arbiter, pauser.
from snekmate.auth import access_control
initializes: access_control

# @dev Emergency stop for new offers and jobs.
from snekmate.utils import pausable
initializes: pausable

# @dev The EIP-712 domain of energy receipts ("DeGEN JobMarket", "1").
from snekmate.utils import eip712_domain_separator
initializes: eip712_domain_separator

# @dev AKRE in and out of the market.
from .modules import payments
initializes: payments

# @dev The site registry the market trusts.
from .modules import sites
initializes: sites

# @dev Providers' stakes: free, or locked as collateral.
from .modules import stakes
initializes: stakes[payments := payments]

# @dev Providers' offers: site, model, limits, fixed prices.
from .modules import offers
initializes: offers[sites := sites, pausable := pausable]

# @dev EIP-712 energy receipts and each site's meter register.
from .modules import energy_receipts
initializes: energy_receipts[sites := sites, eip712_domain_separator := eip712_domain_separator]

# @dev The price of a job and the protocol fee.
from .modules import settlement
initializes: settlement[access_control := access_control, payments := payments]

# @dev RECs retired for green jobs.
from .modules import green_retirement
initializes: green_retirement

exports: (
    access_control.__interface__,
    pausable.paused,
    eip712_domain_separator.eip712Domain,
    payments.PAYMENT_TOKEN,
    sites.SITE_REGISTRY,
    green_retirement.REC_TOKEN,
    stakes.__interface__,
    offers.__interface__,
    energy_receipts.__interface__,
    settlement.__interface__,
)


# @dev The role that resolves disputes.
ARBITER_ROLE: public(constant(bytes32)) = keccak256("ARBITER_ROLE")
# @dev The role that may pause and unpause the creation of offers and jobs.
PAUSER_ROLE: public(constant(bytes32)) = keccak256("PAUSER_ROLE")

# @dev Bounds on job inputs.
MAX_PROMPT_BYTES: public(constant(uint256)) = 2048
MIN_JOB_DURATION: public(constant(uint256)) = 60
MAX_JOB_DURATION: public(constant(uint256)) = 30 * 86400
MIN_CHALLENGE_WINDOW: public(constant(uint256)) = 60
MAX_CHALLENGE_WINDOW: public(constant(uint256)) = 7 * 86400
MAX_GUIDANCE_X100: public(constant(uint16)) = 3000
# @dev Money bounds: amounts are packed into storage words.
MAX_PRICE: public(constant(uint256)) = 2**96 - 1

# @dev Bit layout of a job's core word (one storage slot).
_DEADLINE_SHIFT: constant(uint256) = 16
_WINDOW_SHIFT: constant(uint256) = 56
_SINCE_SHIFT: constant(uint256) = 88
_OFFER_SHIFT: constant(uint256) = 128
_ENERGY_SHIFT: constant(uint256) = 176
_GREEN_SHIFT: constant(uint256) = 224
_BENEFICIARY_SHIFT: constant(uint256) = 225


# @dev The decoded core word of a job.
struct _Core:
    state: IJobMarket.JobState
    deadline: uint256
    window: uint256
    since: uint256
    offer_id: uint256
    energy_mwh: uint256
    green: bool
    # True when the certificate goes to someone other than the requester.
    own_beneficiary: bool


# @dev Number of jobs created; ids start at 1.
job_count: public(uint256)

# @dev The bond a requester posts to dispute a delivery.
dispute_bond: public(uint256)

# @dev Per job: requester (160 bits) | max price (96 bits).
_job_party: HashMap[uint256, uint256]
# @dev Per job: the packed `_Core`.
_job_core: HashMap[uint256, uint256]
# @dev Per green job whose certificate goes to someone other than the requester: who.
_beneficiary: HashMap[uint256, address]
# @dev Per job: keccak256(abi_encode(prompt, params)).
_request_hash: HashMap[uint256, bytes32]
# @dev Per open job until accepted: the model and minimum collateral asked for.
_open_model: HashMap[uint256, bytes32]
_open_min_collateral: HashMap[uint256, uint256]
# @dev Per disputed job: the bond the requester posted.
bond_of: public(HashMap[uint256, uint256])

# @dev Per provider: contracts it lets deliver its jobs (a GreenRouter).
delivery_operator: public(HashMap[address, HashMap[address, bool]])


# @dev A provider let an operator deliver its jobs, or stopped it.
event DeliveryOperatorSet:
    provider: indexed(address)
    operator: indexed(address)
    approved: bool

# @dev A requester posted a job; `offer_id == 0` for an open job. For a
# directed job `model_id` is what the requester named (empty: the offer's).
# The stored request hash is keccak256(abi_encode(prompt, params)).
event JobCreated:
    job_id: indexed(uint256)
    requester: indexed(address)
    offer_id: indexed(uint256)
    model_id: bytes32
    max_price: uint256
    min_collateral: uint256
    deadline: uint256
    challenge_window: uint256
    green: bool
    beneficiary: address
    prompt: String[MAX_PROMPT_BYTES]
    params: IJobMarket.GenerationParams

# @dev A provider accepted a job and locked collateral.
event JobAccepted:
    job_id: indexed(uint256)
    provider: indexed(address)
    offer_id: indexed(uint256)
    collateral: uint256

# @dev A provider delivered a result with a verified energy receipt
# (its meter reading started at `meter_end - energy_mwh`). For a green job
# RECToken's `Retired` event in the same transaction names the certificate.
event JobDelivered:
    job_id: indexed(uint256)
    provider: indexed(address)
    site_id: indexed(uint256)
    result_hash: bytes32
    energy_mwh: uint256
    started_at: uint256
    finished_at: uint256
    meter_end: uint256

# @dev A delivered (or disputed, provider-won) job was paid out.
event JobSettled:
    job_id: indexed(uint256)
    provider: indexed(address)
    requester: indexed(address)
    price: uint256
    fee: uint256
    refund: uint256

# @dev The requester cancelled an open job.
event JobCancelled:
    job_id: indexed(uint256)
    refund: uint256

# @dev A job passed its deadline undelivered.
event JobExpired:
    job_id: indexed(uint256)
    caller: indexed(address)
    refund: uint256
    slashed_collateral: uint256

# @dev The requester disputed a delivery.
event JobDisputed:
    job_id: indexed(uint256)
    bond: uint256

# @dev The arbiter decided a dispute.
event JobResolved:
    job_id: indexed(uint256)
    arbiter: indexed(address)
    provider_wins: bool

# @dev The refund side of a dispute the requester won.
event JobRefunded:
    job_id: indexed(uint256)
    requester: indexed(address)
    refund: uint256
    slashed_collateral: uint256

# @dev The admin changed the dispute bond.
event DisputeBondChanged:
    dispute_bond: uint256


@deploy
def __init__(
    payment_token_: IERC20,
    site_registry_: ISiteRegistry,
    rec_token_: IRECToken,
    treasury_: address,
    fee_bps_: uint256,
    dispute_bond_: uint256,
):
    """
    @dev The deployer receives DEFAULT_ADMIN_ROLE, ARBITER_ROLE and PAUSER_ROLE.
    @param payment_token_ The AKRE token.
    @param site_registry_ The site registry.
    @param rec_token_ The REC token green jobs retire.
    @param treasury_ Where protocol fees go.
    @param fee_bps_ The protocol fee in basis points (at most MAX_FEE_BPS).
    @param dispute_bond_ The bond a requester posts to dispute.
    """
    access_control.__init__()
    access_control._grant_role(ARBITER_ROLE, msg.sender)
    access_control._grant_role(PAUSER_ROLE, msg.sender)
    pausable.__init__()
    eip712_domain_separator.__init__("DeGEN JobMarket", "1")
    payments.__init__(payment_token_)
    sites.__init__(site_registry_)
    green_retirement.__init__(rec_token_)
    settlement.__init__(fee_bps_, treasury_)
    self.dispute_bond = dispute_bond_


# ---------------------------------------------------------------- delivery operators


@external
def set_delivery_operator(operator: address, approved: bool):
    """
    @notice Lets `operator` deliver the caller's jobs (or stops it), as the
            GreenRouter does to buy missing RECs inside the delivery. An
            operator cannot alter a delivery: the receipt must still be
            signed by the site's meter key.
    @param operator The operator contract.
    @param approved Whether it may deliver.
    """
    assert operator != empty(address) and operator != msg.sender, "market: bad operator"
    self.delivery_operator[msg.sender][operator] = approved
    log DeliveryOperatorSet(provider=msg.sender, operator=operator, approved=approved)


# ---------------------------------------------------------------- jobs


@external
@nonreentrant
def create_job(terms: IJobMarket.JobTerms, prompt: String[MAX_PROMPT_BYTES], params: IJobMarket.GenerationParams) -> uint256:
    """
    @notice Posts a job and escrows `terms.max_price` (approved beforehand).
    @param terms The job's terms; `offer_id == 0` for an open job.
    @param prompt The text prompt, 1 to 2048 bytes of UTF-8.
    @param params The generation parameters.
    @return uint256 The job id.
    """
    return self._create_job(terms, prompt, params)


@external
@nonreentrant
def create_job_with_permit(
    terms: IJobMarket.JobTerms,
    prompt: String[MAX_PROMPT_BYTES],
    params: IJobMarket.GenerationParams,
    permit_deadline: uint256,
    v: uint8,
    r: bytes32,
    s: bytes32,
) -> uint256:
    """
    @notice Like `create_job`, with an EIP-2612 permit for `max_price` in
            the same transaction. A permit that was front-run (already
            used) is ignored as long as the allowance it granted is there.
    @param terms The job's terms; `offer_id == 0` for an open job.
    @param prompt The text prompt, 1 to 2048 bytes of UTF-8.
    @param params The generation parameters.
    @param permit_deadline The permit's deadline.
    @param v The permit signature's v.
    @param r The permit signature's r.
    @param s The permit signature's s.
    @return uint256 The job id.
    """
    # A failed permit (e.g. front-run) is ignored: `transferFrom` below
    # still needs the allowance, so nothing is taken without consent.
    permitted: bool = raw_call(
        payments.PAYMENT_TOKEN.address,
        abi_encode(
            msg.sender, self, terms.max_price, permit_deadline, v, r, s,
            method_id=method_id("permit(address,address,uint256,uint256,uint8,bytes32,bytes32)"),
        ),
        revert_on_failure=False,
    )
    return self._create_job(terms, prompt, params)


@external
def accept(job_id: uint256, offer_id: uint256):
    """
    @notice Takes an open job on one of the caller's offers and locks the
            offer's collateral from the caller's free stake. A directed job
            can only be accepted on the offer it names.
    @param job_id The job.
    @param offer_id The caller's offer.
    """
    core: _Core = self._core_of(job_id)
    assert core.state == IJobMarket.JobState.OPEN, "market: job not open"
    assert block.timestamp < core.deadline, "market: deadline passed"
    head: offers.OfferHead = offers._head_of(offer_id)
    assert head.provider == msg.sender, "market: not provider"
    assert head.active, "market: offer closed"
    assert staticcall sites.SITE_REGISTRY.is_active(head.site_id), "market: site not active"
    base_price: uint256 = 0
    price_per_kwh: uint256 = 0
    collateral: uint256 = 0
    base_price, price_per_kwh, collateral = offers._terms_of(offer_id)
    assert head.green or not core.green, "market: offer not green"
    if core.offer_id == 0:
        assert offers.offer_model[offer_id] == self._open_model[job_id], "market: wrong model"
        assert collateral >= self._open_min_collateral[job_id], "market: collateral too low"
        requester: address = empty(address)
        max_price: uint256 = 0
        requester, max_price = self._party_of(job_id)
        assert base_price <= max_price, "market: base price above max"
        self._open_model[job_id] = empty(bytes32)
        self._open_min_collateral[job_id] = 0
        core.offer_id = offer_id
    else:
        assert core.offer_id == offer_id, "market: wrong offer"

    stakes._lock(msg.sender, collateral)

    core.state = IJobMarket.JobState.ACCEPTED
    core.since = block.timestamp
    self._job_core[job_id] = self._pack_core(core)
    log JobAccepted(job_id=job_id, provider=msg.sender, offer_id=offer_id, collateral=collateral)


@external
def deliver(job_id: uint256, receipt: IJobMarket.EnergyReceipt, signature: Bytes[65]):
    """
    @notice Delivers a result with its energy receipt. The provider or its
            delivery operator only. The receipt must be signed (EIP-712) by the site's current meter
            key, lie inside accept..now, claim no more energy than the
            site's GPU can draw in that time, match its meter readings,
            and start at or after the site's last delivered reading.
    @param job_id The job.
    @param receipt The energy receipt; its `result_hash` is the PNG's sha256.
    @param signature The meter key's 65-byte signature over the receipt.
    """
    core: _Core = self._core_of(job_id)
    assert core.state == IJobMarket.JobState.ACCEPTED, "market: job not accepted"
    assert block.timestamp <= core.deadline, "market: deadline passed"
    head: offers.OfferHead = offers._head_of(core.offer_id)
    provider: address = head.provider
    assert provider == msg.sender or self.delivery_operator[provider][msg.sender], "market: not provider"
    site_id: uint256 = head.site_id
    energy: uint256 = energy_receipts._redeem(receipt, signature, job_id, core.since, site_id)
    if core.green and energy > 0:
        green_retirement._retire_for_job(job_id, provider, energy, self._beneficiary_of(job_id, core))
    core.state = IJobMarket.JobState.DELIVERED
    core.since = block.timestamp
    core.energy_mwh = energy
    self._job_core[job_id] = self._pack_core(core)
    log JobDelivered(
        job_id=job_id,
        provider=provider,
        site_id=site_id,
        result_hash=receipt.result_hash,
        energy_mwh=energy,
        started_at=convert(receipt.started_at, uint256),
        finished_at=convert(receipt.finished_at, uint256),
        meter_end=convert(receipt.meter_end, uint256),
    )


@external
@nonreentrant
def settle(job_id: uint256):
    """
    @notice Pays a delivered job: the provider gets the price minus the
            protocol fee, the treasury the fee, the requester the rest of
            the escrow; the collateral returns to the provider's free
            stake. The requester may settle at once, anyone else once the
            challenge window has passed.
    @param job_id The job.
    """
    core: _Core = self._core_of(job_id)
    assert core.state == IJobMarket.JobState.DELIVERED, "market: job not delivered"
    requester: address = empty(address)
    max_price: uint256 = 0
    requester, max_price = self._party_of(job_id)
    if msg.sender != requester:
        assert block.timestamp > core.since + core.window, "market: challenge window open"
    self._pay_out(job_id, core, requester, max_price, 0)


@external
@nonreentrant
def cancel(job_id: uint256):
    """
    @notice Withdraws an open job and refunds its escrow. Requester only.
    @param job_id The job.
    """
    core: _Core = self._core_of(job_id)
    assert core.state == IJobMarket.JobState.OPEN, "market: job not open"
    requester: address = empty(address)
    max_price: uint256 = 0
    requester, max_price = self._party_of(job_id)
    assert msg.sender == requester, "market: not requester"
    self._clear_open_terms(job_id)
    core.state = IJobMarket.JobState.CANCELLED
    core.since = block.timestamp
    self._job_core[job_id] = self._pack_core(core)
    payments._push(requester, max_price)
    log JobCancelled(job_id=job_id, refund=max_price)


@external
@nonreentrant
def expire(job_id: uint256):
    """
    @notice Ends a job that passed its deadline without delivery: the
            requester gets the escrow back and, if a provider had accepted
            it, that provider's locked collateral. Anyone may call.
    @param job_id The job.
    """
    core: _Core = self._core_of(job_id)
    assert core.state in (IJobMarket.JobState.OPEN | IJobMarket.JobState.ACCEPTED), "market: job not expirable"
    assert block.timestamp > core.deadline, "market: deadline not passed"
    requester: address = empty(address)
    max_price: uint256 = 0
    requester, max_price = self._party_of(job_id)
    slashed: uint256 = 0
    if core.state == IJobMarket.JobState.ACCEPTED:
        slashed = self._slash_collateral(core.offer_id)
    else:
        self._clear_open_terms(job_id)
    core.state = IJobMarket.JobState.EXPIRED
    core.since = block.timestamp
    self._job_core[job_id] = self._pack_core(core)
    payments._push(requester, max_price + slashed)
    log JobExpired(job_id=job_id, caller=msg.sender, refund=max_price, slashed_collateral=slashed)


@external
@nonreentrant
def dispute(job_id: uint256):
    """
    @notice Challenges a delivery within its challenge window, posting
            `dispute_bond` AKRE (approved beforehand). Requester only. The
            arbiter then resolves the job.
    @param job_id The job.
    """
    core: _Core = self._core_of(job_id)
    assert core.state == IJobMarket.JobState.DELIVERED, "market: job not delivered"
    requester: address = empty(address)
    max_price: uint256 = 0
    requester, max_price = self._party_of(job_id)
    assert msg.sender == requester, "market: not requester"
    assert block.timestamp <= core.since + core.window, "market: challenge window closed"
    bond: uint256 = self.dispute_bond
    self.bond_of[job_id] = bond
    core.state = IJobMarket.JobState.DISPUTED
    core.since = block.timestamp
    self._job_core[job_id] = self._pack_core(core)
    if bond > 0:
        payments._pull(requester, bond)
    log JobDisputed(job_id=job_id, bond=bond)


@external
@nonreentrant
def resolve(job_id: uint256, provider_wins: bool):
    """
    @notice Decides a dispute. Arbiter only. If the provider wins, the job
            settles as usual and the requester's bond goes to the provider.
            If the requester wins, the requester gets the escrow, the bond
            and the provider's locked collateral back.
    @param job_id The job.
    @param provider_wins Whether the delivered result stands.
    """
    access_control._check_role(ARBITER_ROLE, msg.sender)
    core: _Core = self._core_of(job_id)
    assert core.state == IJobMarket.JobState.DISPUTED, "market: job not disputed"
    requester: address = empty(address)
    max_price: uint256 = 0
    requester, max_price = self._party_of(job_id)
    bond: uint256 = self.bond_of[job_id]
    self.bond_of[job_id] = 0
    log JobResolved(job_id=job_id, arbiter=msg.sender, provider_wins=provider_wins)
    if provider_wins:
        self._pay_out(job_id, core, requester, max_price, bond)
        return
    slashed: uint256 = self._slash_collateral(core.offer_id)
    core.state = IJobMarket.JobState.REFUNDED
    core.since = block.timestamp
    self._job_core[job_id] = self._pack_core(core)
    payments._push(requester, max_price + bond + slashed)
    log JobRefunded(job_id=job_id, requester=requester, refund=max_price + bond, slashed_collateral=slashed)


# ---------------------------------------------------------------- admin


@external
def set_dispute_bond(dispute_bond: uint256):
    """
    @notice Sets the bond for future disputes. Admin only.
    @param dispute_bond AKRE base units.
    """
    access_control._check_role(access_control.DEFAULT_ADMIN_ROLE, msg.sender)
    assert dispute_bond <= MAX_PRICE, "market: bond too large"
    self.dispute_bond = dispute_bond
    log DisputeBondChanged(dispute_bond=dispute_bond)


@external
def pause():
    """
    @notice Stops the creation of offers and jobs. Pauser only.
    """
    access_control._check_role(PAUSER_ROLE, msg.sender)
    pausable._pause()


@external
def unpause():
    """
    @notice Resumes the creation of offers and jobs. Pauser only.
    """
    access_control._check_role(PAUSER_ROLE, msg.sender)
    pausable._unpause()


# ---------------------------------------------------------------- views


@view
@external
def job(job_id: uint256) -> IJobMarket.Job:
    """
    @notice A job as stored (zero for unknown ids). `state_since` is the
            time of the last transition (accept, delivery, ...).
    @param job_id The job.
    @return Job The job.
    """
    core: _Core = self._core_of(job_id)
    requester: address = empty(address)
    max_price: uint256 = 0
    requester, max_price = self._party_of(job_id)
    return IJobMarket.Job(
        requester=requester,
        max_price=max_price,
        state=core.state,
        deadline=core.deadline,
        challenge_window=core.window,
        state_since=core.since,
        offer_id=core.offer_id,
        energy_mwh=core.energy_mwh,
        green=core.green,
        beneficiary=self._beneficiary_of(job_id, core),
        request_hash=self._request_hash[job_id],
    )


@view
@external
def open_terms(job_id: uint256) -> (bytes32, uint256):
    """
    @notice The model and minimum collateral an open job asks for, until
            it is accepted.
    @param job_id The job.
    @return bytes32 The model id.
    @return uint256 The minimum collateral.
    """
    return self._open_model[job_id], self._open_min_collateral[job_id]


@view
@external
def price_of(job_id: uint256) -> uint256:
    """
    @notice What a job costs at its metered energy: `base + energy x rate`,
            capped at `max_price` (before the protocol fee is taken from it).
    @param job_id The job (accepted or later).
    @return uint256 AKRE base units.
    """
    core: _Core = self._core_of(job_id)
    requester: address = empty(address)
    max_price: uint256 = 0
    requester, max_price = self._party_of(job_id)
    base_price: uint256 = 0
    price_per_kwh: uint256 = 0
    collateral: uint256 = 0
    base_price, price_per_kwh, collateral = offers._terms_of(core.offer_id)
    return settlement._price(base_price, price_per_kwh, core.energy_mwh, max_price)


# ---------------------------------------------------------------- internal


@internal
def _create_job(terms: IJobMarket.JobTerms, prompt: String[MAX_PROMPT_BYTES], params: IJobMarket.GenerationParams) -> uint256:
    """
    @dev Checks the terms, stores the job and pulls `max_price`.
    """
    pausable._require_not_paused()
    assert len(prompt) > 0, "market: empty prompt"
    assert terms.max_price > 0 and terms.max_price <= MAX_PRICE, "market: bad max price"
    assert terms.deadline >= block.timestamp + MIN_JOB_DURATION, "market: deadline too soon"
    assert terms.deadline <= block.timestamp + MAX_JOB_DURATION, "market: deadline too far"
    assert terms.challenge_window >= MIN_CHALLENGE_WINDOW and terms.challenge_window <= MAX_CHALLENGE_WINDOW, "market: bad challenge window"
    offers._check_limits(params.width, params.height, params.steps)
    assert params.width % 8 == 0 and params.height % 8 == 0, "market: size not a multiple of 8"
    assert params.guidance_x100 <= MAX_GUIDANCE_X100, "market: guidance too large"

    model_id: bytes32 = terms.model_id
    if terms.offer_id == 0:
        assert model_id != empty(bytes32), "market: empty model"
        assert terms.min_collateral <= offers.MAX_COLLATERAL, "market: collateral too large"
    else:
        head: offers.OfferHead = offers._head_of(terms.offer_id)
        assert head.active, "market: offer not active"
        assert head.green or not terms.green, "market: offer not green"
        # The offer's model never changes; a requester who names one gets it checked.
        if model_id != empty(bytes32):
            assert model_id == offers.offer_model[terms.offer_id], "market: wrong model"
        base_price: uint256 = 0
        price_per_kwh: uint256 = 0
        collateral: uint256 = 0
        base_price, price_per_kwh, collateral = offers._terms_of(terms.offer_id)
        assert base_price <= terms.max_price, "market: base price above max"
        assert collateral >= terms.min_collateral, "market: collateral too low"
        assert convert(params.width, uint256) <= head.max_width, "market: width above offer"
        assert convert(params.height, uint256) <= head.max_height, "market: height above offer"
        assert convert(params.steps, uint256) <= head.max_steps, "market: steps above offer"

    beneficiary: address = msg.sender
    if terms.beneficiary != empty(address):
        assert terms.green, "market: beneficiary without green"
        beneficiary = terms.beneficiary

    job_id: uint256 = self.job_count + 1
    self.job_count = job_id
    self._job_party[job_id] = convert(msg.sender, uint256) | (terms.max_price << 160)
    self._job_core[job_id] = self._pack_core(
        _Core(
            state=IJobMarket.JobState.OPEN,
            deadline=terms.deadline,
            window=terms.challenge_window,
            since=block.timestamp,
            offer_id=terms.offer_id,
            energy_mwh=0,
            green=terms.green,
            own_beneficiary=beneficiary != msg.sender,
        )
    )
    if beneficiary != msg.sender:
        self._beneficiary[job_id] = beneficiary
    self._request_hash[job_id] = keccak256(abi_encode(prompt, params))
    if terms.offer_id == 0:
        self._open_model[job_id] = model_id
        self._open_min_collateral[job_id] = terms.min_collateral
    payments._pull(msg.sender, terms.max_price)
    log JobCreated(
        job_id=job_id,
        requester=msg.sender,
        offer_id=terms.offer_id,
        model_id=model_id,
        max_price=terms.max_price,
        min_collateral=terms.min_collateral,
        deadline=terms.deadline,
        challenge_window=terms.challenge_window,
        green=terms.green,
        beneficiary=beneficiary,
        prompt=prompt,
        params=params,
    )
    return job_id


@internal
def _pay_out(job_id: uint256, core: _Core, requester: address, max_price: uint256, bonus: uint256):
    """
    @dev Settles a job: price minus fee (plus `bonus`, a forfeited dispute
         bond) to the provider, the fee to the accrued protocol fees, the
         rest to the requester; the collateral back to the provider's free stake.
    """
    provider: address = offers._head_of(core.offer_id).provider
    base_price: uint256 = 0
    price_per_kwh: uint256 = 0
    collateral: uint256 = 0
    base_price, price_per_kwh, collateral = offers._terms_of(core.offer_id)
    price: uint256 = settlement._price(base_price, price_per_kwh, core.energy_mwh, max_price)
    fee: uint256 = settlement._take_fee(price)
    refund: uint256 = max_price - price
    stakes._release(provider, collateral)

    core_after: _Core = core
    core_after.state = IJobMarket.JobState.SETTLED
    core_after.since = block.timestamp
    self._job_core[job_id] = self._pack_core(core_after)

    payments._push(provider, price - fee + bonus)
    if refund > 0:
        payments._push(requester, refund)
    log JobSettled(job_id=job_id, provider=provider, requester=requester, price=price, fee=fee, refund=refund)


@view
@internal
def _beneficiary_of(job_id: uint256, core: _Core) -> address:
    """
    @dev Who a job's certificate names: the requester unless they named someone.
    """
    if core.own_beneficiary:
        return self._beneficiary[job_id]
    requester: address = empty(address)
    max_price: uint256 = 0
    requester, max_price = self._party_of(job_id)
    return requester


@internal
def _slash_collateral(offer_id: uint256) -> uint256:
    """
    @dev Removes an accepted job's collateral from its provider's locked stake.
    """
    collateral: uint256 = offers._collateral_of(offer_id)
    stakes._slash(offers._head_of(offer_id).provider, collateral)
    return collateral


@internal
def _clear_open_terms(job_id: uint256):
    self._open_model[job_id] = empty(bytes32)
    self._open_min_collateral[job_id] = 0


@view
@internal
def _core_of(job_id: uint256) -> _Core:
    word: uint256 = self._job_core[job_id]
    return _Core(
        state=convert(word % 2**_DEADLINE_SHIFT, IJobMarket.JobState),
        deadline=(word >> _DEADLINE_SHIFT) % 2**40,
        window=(word >> _WINDOW_SHIFT) % 2**32,
        since=(word >> _SINCE_SHIFT) % 2**40,
        offer_id=(word >> _OFFER_SHIFT) % 2**48,
        energy_mwh=(word >> _ENERGY_SHIFT) % 2**48,
        green=(word >> _GREEN_SHIFT) % 2 == 1,
        own_beneficiary=(word >> _BENEFICIARY_SHIFT) % 2 == 1,
    )


@pure
@internal
def _pack_core(core: _Core) -> uint256:
    assert core.energy_mwh < 2**48 and core.offer_id < 2**48, "market: value too large"
    return (
        convert(core.state, uint256)
        | (core.deadline << _DEADLINE_SHIFT)
        | (core.window << _WINDOW_SHIFT)
        | (core.since << _SINCE_SHIFT)
        | (core.offer_id << _OFFER_SHIFT)
        | (core.energy_mwh << _ENERGY_SHIFT)
        | (convert(core.green, uint256) << _GREEN_SHIFT)
        | (convert(core.own_beneficiary, uint256) << _BENEFICIARY_SHIFT)
    )


@view
@internal
def _party_of(job_id: uint256) -> (address, uint256):
    word: uint256 = self._job_party[job_id]
    return convert(convert(word % 2**160, uint160), address), word >> 160
