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
        See docs/SPEC.md for the state machine, roles and trust assumptions.
@custom:kill A PAUSER_ROLE holder calls `pause`: no new offers or jobs can
             be created, while every job in flight can still finish, be
             cancelled, expire or be resolved, so no funds are stranded.
             Providers withdraw their free stake at any time.
"""


# @dev The payment token (AKRE) is an ERC-20.
from ethereum.ercs import IERC20

# @dev The public interfaces of this market and of the site registry.
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

# @dev Signature recovery (rejects malleable `s` values).
from snekmate.utils import ecdsa

exports: (
    access_control.__interface__,
    pausable.paused,
    eip712_domain_separator.eip712Domain,
)


# @dev The role that resolves disputes.
ARBITER_ROLE: public(constant(bytes32)) = keccak256("ARBITER_ROLE")
# @dev The role that may pause and unpause the creation of offers and jobs.
PAUSER_ROLE: public(constant(bytes32)) = keccak256("PAUSER_ROLE")

# @dev EIP-712 type hash of the energy receipt signed by a site's meter key.
RECEIPT_TYPEHASH: public(constant(bytes32)) = keccak256(
    "EnergyReceipt(uint256 job_id,bytes32 result_hash,uint64 started_at,uint64 finished_at,uint64 energy_mwh,uint64 meter_start,uint64 meter_end)"
)

# @dev Bounds on job inputs.
MAX_PROMPT_BYTES: public(constant(uint256)) = 2048
MIN_JOB_DURATION: public(constant(uint256)) = 60
MAX_JOB_DURATION: public(constant(uint256)) = 30 * 86400
MIN_CHALLENGE_WINDOW: public(constant(uint256)) = 60
MAX_CHALLENGE_WINDOW: public(constant(uint256)) = 7 * 86400
MIN_IMAGE_SIDE: public(constant(uint16)) = 64
MAX_IMAGE_SIDE: public(constant(uint16)) = 2048
MAX_STEPS: public(constant(uint16)) = 500
MAX_GUIDANCE_X100: public(constant(uint16)) = 3000
# @dev Money bounds: amounts are packed into storage words.
MAX_PRICE: public(constant(uint256)) = 2**96 - 1
MAX_COLLATERAL: public(constant(uint256)) = 2**96 - 1
MAX_BASE_PRICE: public(constant(uint256)) = 2**80 - 1
MAX_PRICE_PER_KWH: public(constant(uint256)) = 2**80 - 1
# @dev The protocol fee never exceeds 10 %.
MAX_FEE_BPS: public(constant(uint256)) = 1000
_BPS: constant(uint256) = 10_000
# @dev 1 kWh = 1,000,000 mWh; 1 Wh = 3,600 J.
_MWH_PER_KWH: constant(uint256) = 1_000_000

# @dev Bit layout of a job's core word (one storage slot).
_DEADLINE_SHIFT: constant(uint256) = 16
_WINDOW_SHIFT: constant(uint256) = 56
_SINCE_SHIFT: constant(uint256) = 88
_OFFER_SHIFT: constant(uint256) = 128
_ENERGY_SHIFT: constant(uint256) = 176
_GREEN_SHIFT: constant(uint256) = 224
_BENEFICIARY_SHIFT: constant(uint256) = 225
# @dev Bit layout of an offer's head word: provider | site id | active |
# max width (12 bits) | max height (12) | max steps (9) | serves green (1).
_SITE_SHIFT: constant(uint256) = 160
_ACTIVE_SHIFT: constant(uint256) = 208
_WIDTH_SHIFT: constant(uint256) = 209
_HEIGHT_SHIFT: constant(uint256) = 221
_STEPS_SHIFT: constant(uint256) = 233
_OFFER_GREEN_SHIFT: constant(uint256) = 242
# @dev Bit layout of an offer's terms word: base price (80 bits) |
# price per kWh (80) | collateral (96).
_RATE_SHIFT: constant(uint256) = 80
_COLLATERAL_SHIFT: constant(uint256) = 160
# @dev Bit layout of the fee word: fee bps (16 bits) | accrued fees.
_ACCRUED_SHIFT: constant(uint256) = 16
# @dev Upper 128 bits of a stake word: free | locked.
_HIGH: constant(uint256) = 128


# @dev The payment token.
PAYMENT_TOKEN: public(immutable(IERC20))
# @dev The site registry that holds meter keys and physical limits.
SITE_REGISTRY: public(immutable(ISiteRegistry))
# @dev The REC token whose certificates back green jobs.
REC_TOKEN: public(immutable(IRECToken))


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


# @dev The decoded head word of an offer.
struct _OfferHead:
    provider: address
    site_id: uint256
    active: bool
    max_width: uint256
    max_height: uint256
    max_steps: uint256
    green: bool


# @dev Number of jobs and offers created; ids start at 1.
job_count: public(uint256)
offer_count: public(uint256)

# @dev Protocol fee in basis points of the price | fees accrued, not yet swept.
_fee_word: uint256
# @dev Where `sweep_fees` sends the accrued protocol fees.
treasury: public(address)
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

# @dev Per offer: the packed `_OfferHead`.
_offer_head: HashMap[uint256, uint256]
# @dev Per offer: base price | price per kWh | collateral (fixed for life).
_offer_terms: HashMap[uint256, uint256]
# @dev Per offer: the model served.
_offer_model: HashMap[uint256, bytes32]

# @dev Per provider: free stake | locked stake << 128.
_stake: HashMap[address, uint256]

# @dev Per site: the last `meter_end` delivered (the cumulative register, mWh).
meter_register: public(HashMap[uint256, uint256])

# @dev Per provider: contracts it lets deliver its jobs (a GreenRouter).
delivery_operator: public(HashMap[address, HashMap[address, bool]])


# @dev A provider added to its stake.
event StakeDeposited:
    provider: indexed(address)
    amount: uint256

# @dev A provider took free stake back.
event StakeWithdrawn:
    provider: indexed(address)
    amount: uint256

# @dev A provider let an operator deliver its jobs, or stopped it.
event DeliveryOperatorSet:
    provider: indexed(address)
    operator: indexed(address)
    approved: bool

# @dev A provider published an offer.
event OfferCreated:
    offer_id: indexed(uint256)
    provider: indexed(address)
    site_id: indexed(uint256)
    green: bool
    model_id: bytes32
    max_width: uint16
    max_height: uint16
    max_steps: uint16
    base_price: uint256
    price_per_kwh: uint256
    collateral: uint256

# @dev A provider changed an offer's limits.
event OfferUpdated:
    offer_id: indexed(uint256)
    max_width: uint16
    max_height: uint16
    max_steps: uint16

# @dev A provider withdrew an offer.
event OfferClosed:
    offer_id: indexed(uint256)

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

# @dev Accrued protocol fees were sent to the treasury.
event FeesSwept:
    treasury: indexed(address)
    amount: uint256

# @dev The admin changed the fee or the treasury.
event FeeChanged:
    fee_bps: uint256
    treasury: address

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
    PAYMENT_TOKEN = payment_token_
    SITE_REGISTRY = site_registry_
    REC_TOKEN = rec_token_
    self._set_fee(fee_bps_, treasury_)
    self.dispute_bond = dispute_bond_


# ---------------------------------------------------------------- stake


@external
@nonreentrant
def deposit_stake(amount: uint256):
    """
    @notice Adds `amount` AKRE (approved to this market) to the caller's free stake.
    @param amount Base units of AKRE.
    """
    assert amount > 0, "market: zero amount"
    free: uint256 = 0
    locked: uint256 = 0
    free, locked = self._split(self._stake[msg.sender])
    free += amount
    assert free <= 2**128 - 1, "market: stake too large"
    self._stake[msg.sender] = self._join(free, locked)
    self._pull(msg.sender, amount)
    log StakeDeposited(provider=msg.sender, amount=amount)


@external
@nonreentrant
def withdraw_stake(amount: uint256):
    """
    @notice Sends `amount` of the caller's free (unlocked) stake back.
    @param amount Base units of AKRE.
    """
    assert amount > 0, "market: zero amount"
    free: uint256 = 0
    locked: uint256 = 0
    free, locked = self._split(self._stake[msg.sender])
    assert amount <= free, "market: exceeds free stake"
    self._stake[msg.sender] = self._join(free - amount, locked)
    self._push(msg.sender, amount)
    log StakeWithdrawn(provider=msg.sender, amount=amount)


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


# ---------------------------------------------------------------- offers


@external
def create_offer(
    site_id: uint256,
    model_id: bytes32,
    max_width: uint16,
    max_height: uint16,
    max_steps: uint16,
    base_price: uint256,
    price_per_kwh: uint256,
    collateral: uint256,
    green: bool,
) -> uint256:
    """
    @notice Publishes an offer to generate images with `model_id` on an
            ACTIVE site the caller owns. Prices and collateral are fixed
            for the offer's life (close it and create another to reprice),
            so every job is paid under the terms it was accepted on.
    @param site_id The caller's site (registry id).
    @param model_id The model served, e.g. keccak256 of its name.
    @param max_width The widest image accepted, in pixels.
    @param max_height The tallest image accepted, in pixels.
    @param max_steps The most inference steps accepted.
    @param base_price AKRE base units charged per job.
    @param price_per_kwh AKRE base units charged per kWh metered.
    @param collateral AKRE locked from the stake per accepted job.
    @param green Whether the offer serves green jobs (the provider then
           holds RECs approved to this market to cover their energy).
    @return uint256 The offer id.
    """
    pausable._require_not_paused()
    assert staticcall SITE_REGISTRY.owner_of(site_id) == msg.sender, "market: not site owner"
    assert staticcall SITE_REGISTRY.is_active(site_id), "market: site not active"
    assert site_id < 2**48, "market: site id too large"
    assert model_id != empty(bytes32), "market: empty model"
    self._check_limits(max_width, max_height, max_steps)
    assert base_price <= MAX_BASE_PRICE and price_per_kwh <= MAX_PRICE_PER_KWH, "market: price too large"
    assert collateral <= MAX_COLLATERAL, "market: collateral too large"

    offer_id: uint256 = self.offer_count + 1
    self.offer_count = offer_id
    self._offer_head[offer_id] = self._pack_head(
        _OfferHead(
            provider=msg.sender,
            site_id=site_id,
            active=True,
            max_width=convert(max_width, uint256),
            max_height=convert(max_height, uint256),
            max_steps=convert(max_steps, uint256),
            green=green,
        )
    )
    self._offer_terms[offer_id] = base_price | (price_per_kwh << _RATE_SHIFT) | (collateral << _COLLATERAL_SHIFT)
    self._offer_model[offer_id] = model_id
    log OfferCreated(
        offer_id=offer_id,
        provider=msg.sender,
        site_id=site_id,
        green=green,
        model_id=model_id,
        max_width=max_width,
        max_height=max_height,
        max_steps=max_steps,
        base_price=base_price,
        price_per_kwh=price_per_kwh,
        collateral=collateral,
    )
    return offer_id


@external
def update_offer(offer_id: uint256, max_width: uint16, max_height: uint16, max_steps: uint16):
    """
    @notice Changes an active offer's image limits. Provider only.
    @param offer_id The offer.
    @param max_width The widest image accepted, in pixels.
    @param max_height The tallest image accepted, in pixels.
    @param max_steps The most inference steps accepted.
    """
    head: _OfferHead = self._head_of(offer_id)
    assert head.provider == msg.sender, "market: not provider"
    assert head.active, "market: offer closed"
    self._check_limits(max_width, max_height, max_steps)
    head.max_width = convert(max_width, uint256)
    head.max_height = convert(max_height, uint256)
    head.max_steps = convert(max_steps, uint256)
    self._offer_head[offer_id] = self._pack_head(head)
    log OfferUpdated(offer_id=offer_id, max_width=max_width, max_height=max_height, max_steps=max_steps)


@external
def close_offer(offer_id: uint256):
    """
    @notice Withdraws an offer: no new job can name it or be accepted on it.
            Jobs already accepted on it finish under its terms. Provider only.
    @param offer_id The offer.
    """
    head: _OfferHead = self._head_of(offer_id)
    assert head.provider == msg.sender, "market: not provider"
    assert head.active, "market: offer closed"
    head.active = False
    self._offer_head[offer_id] = self._pack_head(head)
    log OfferClosed(offer_id=offer_id)


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
        PAYMENT_TOKEN.address,
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
    head: _OfferHead = self._head_of(offer_id)
    assert head.provider == msg.sender, "market: not provider"
    assert head.active, "market: offer closed"
    assert staticcall SITE_REGISTRY.is_active(head.site_id), "market: site not active"
    base_price: uint256 = 0
    price_per_kwh: uint256 = 0
    collateral: uint256 = 0
    base_price, price_per_kwh, collateral = self._terms_of(offer_id)
    assert head.green or not core.green, "market: offer not green"
    if core.offer_id == 0:
        assert self._offer_model[offer_id] == self._open_model[job_id], "market: wrong model"
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

    free: uint256 = 0
    locked: uint256 = 0
    free, locked = self._split(self._stake[msg.sender])
    assert collateral <= free, "market: insufficient stake"
    self._stake[msg.sender] = self._join(free - collateral, locked + collateral)

    core.state = IJobMarket.JobState.ACCEPTED
    core.since = block.timestamp
    self._job_core[job_id] = self._pack_core(core)
    log JobAccepted(job_id=job_id, provider=msg.sender, offer_id=offer_id, collateral=collateral)


@external
def deliver(job_id: uint256, receipt: IJobMarket.EnergyReceipt, signature: Bytes[65]):
    """
    @notice Delivers a result with its energy receipt. The provider or its
            delivery operator only. The
            receipt must be signed (EIP-712) by the site's current meter
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
    head: _OfferHead = self._head_of(core.offer_id)
    provider: address = head.provider
    assert provider == msg.sender or self.delivery_operator[provider][msg.sender], "market: not provider"
    site_id: uint256 = head.site_id

    assert receipt.job_id == job_id, "market: receipt for another job"
    assert receipt.result_hash != empty(bytes32), "market: empty result"
    started: uint256 = convert(receipt.started_at, uint256)
    finished: uint256 = convert(receipt.finished_at, uint256)
    energy: uint256 = convert(receipt.energy_mwh, uint256)
    assert core.since <= started and started <= finished and finished <= block.timestamp, "market: window outside job"
    assert convert(receipt.meter_start, uint256) + energy == convert(receipt.meter_end, uint256), "market: meter mismatch"
    assert convert(receipt.meter_start, uint256) >= self.meter_register[site_id], "market: meter went backwards"

    meter: address = empty(address)
    max_gpu_watts: uint256 = 0
    site_active: bool = False
    meter, max_gpu_watts, site_active = staticcall SITE_REGISTRY.meter_of(site_id)
    assert site_active, "market: site not active"
    # mWh * 3.6 J/mWh <= W * s  <=>  mWh * 3600 <= W * s * 1000
    assert energy * 3600 <= max_gpu_watts * (finished - started) * 1000, "market: energy above physical bound"
    # 65 bytes only: snekmate also takes EIP-2098's 64-byte form, which the SPEC does not.
    assert len(signature) == 65, "market: signature not 65 bytes"
    assert ecdsa._recover_sig(self._receipt_digest(receipt), signature) == meter, "market: bad meter signature"

    self.meter_register[site_id] = convert(receipt.meter_end, uint256)
    if core.green and energy > 0:
        self._retire_for_job(job_id, core, provider, energy)
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
        started_at=started,
        finished_at=finished,
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
    self._push(requester, max_price)
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
    self._push(requester, max_price + slashed)
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
        self._pull(requester, bond)
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
    self._push(requester, max_price + bond + slashed)
    log JobRefunded(job_id=job_id, requester=requester, refund=max_price + bond, slashed_collateral=slashed)


# ---------------------------------------------------------------- admin


@external
def set_fee(fee_bps: uint256, treasury: address):
    """
    @notice Sets the protocol fee and the treasury. Admin only.
    @param fee_bps Basis points of each job's price, at most MAX_FEE_BPS.
    @param treasury Where fees go.
    """
    access_control._check_role(access_control.DEFAULT_ADMIN_ROLE, msg.sender)
    self._set_fee(fee_bps, treasury)


@external
@nonreentrant
def sweep_fees():
    """
    @notice Sends the accrued protocol fees to the treasury. Anyone may call.
    """
    fee_word: uint256 = self._fee_word
    amount: uint256 = fee_word >> _ACCRUED_SHIFT
    assert amount > 0, "market: no fees"
    self._fee_word = fee_word % 2**_ACCRUED_SHIFT
    treasury: address = self.treasury
    self._push(treasury, amount)
    log FeesSwept(treasury=treasury, amount=amount)


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
def offer(offer_id: uint256) -> IJobMarket.Offer:
    """
    @notice An offer (zero for unknown ids).
    @param offer_id The offer.
    @return Offer The offer.
    """
    head: _OfferHead = self._head_of(offer_id)
    base_price: uint256 = 0
    price_per_kwh: uint256 = 0
    collateral: uint256 = 0
    base_price, price_per_kwh, collateral = self._terms_of(offer_id)
    return IJobMarket.Offer(
        provider=head.provider,
        site_id=head.site_id,
        active=head.active,
        green=head.green,
        model_id=self._offer_model[offer_id],
        max_width=convert(head.max_width, uint16),
        max_height=convert(head.max_height, uint16),
        max_steps=convert(head.max_steps, uint16),
        base_price=base_price,
        price_per_kwh=price_per_kwh,
        collateral=collateral,
    )


@view
@external
def fee_bps() -> uint256:
    """
    @notice The protocol fee, in basis points of each job's price.
    @return uint256 Basis points.
    """
    return self._fee_word % 2**_ACCRUED_SHIFT


@view
@external
def accrued_fees() -> uint256:
    """
    @notice Protocol fees collected and not yet swept to the treasury.
    @return uint256 AKRE base units.
    """
    return self._fee_word >> _ACCRUED_SHIFT


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
def stake_of(provider: address) -> (uint256, uint256):
    """
    @notice A provider's stake.
    @param provider The provider.
    @return uint256 Free stake (withdrawable, or lockable by an accept).
    @return uint256 Stake locked as collateral of accepted jobs.
    """
    return self._split(self._stake[provider])


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
    base_price, price_per_kwh, collateral = self._terms_of(core.offer_id)
    return self._price(base_price, price_per_kwh, core.energy_mwh, max_price)


@view
@external
def receipt_digest(receipt: IJobMarket.EnergyReceipt) -> bytes32:
    """
    @notice The EIP-712 digest a meter key signs for `receipt`.
    @param receipt The energy receipt.
    @return bytes32 The digest.
    """
    return self._receipt_digest(receipt)


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
    self._check_limits(params.width, params.height, params.steps)
    assert params.width % 8 == 0 and params.height % 8 == 0, "market: size not a multiple of 8"
    assert params.guidance_x100 <= MAX_GUIDANCE_X100, "market: guidance too large"

    model_id: bytes32 = terms.model_id
    if terms.offer_id == 0:
        assert model_id != empty(bytes32), "market: empty model"
        assert terms.min_collateral <= MAX_COLLATERAL, "market: collateral too large"
    else:
        head: _OfferHead = self._head_of(terms.offer_id)
        assert head.active, "market: offer not active"
        assert head.green or not terms.green, "market: offer not green"
        # The offer's model never changes; a requester who names one gets it checked.
        if model_id != empty(bytes32):
            assert model_id == self._offer_model[terms.offer_id], "market: wrong model"
        base_price: uint256 = 0
        price_per_kwh: uint256 = 0
        collateral: uint256 = 0
        base_price, price_per_kwh, collateral = self._terms_of(terms.offer_id)
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
    self._pull(msg.sender, terms.max_price)
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
    provider: address = self._head_of(core.offer_id).provider
    base_price: uint256 = 0
    price_per_kwh: uint256 = 0
    collateral: uint256 = 0
    base_price, price_per_kwh, collateral = self._terms_of(core.offer_id)
    price: uint256 = self._price(base_price, price_per_kwh, core.energy_mwh, max_price)
    fee_word: uint256 = self._fee_word
    fee: uint256 = price * (fee_word % 2**_ACCRUED_SHIFT) // _BPS
    refund: uint256 = max_price - price
    if fee > 0:
        self._fee_word = fee_word + (fee << _ACCRUED_SHIFT)

    free: uint256 = 0
    locked: uint256 = 0
    free, locked = self._split(self._stake[provider])
    self._stake[provider] = self._join(free + collateral, locked - collateral)

    core_after: _Core = core
    core_after.state = IJobMarket.JobState.SETTLED
    core_after.since = block.timestamp
    self._job_core[job_id] = self._pack_core(core_after)

    self._push(provider, price - fee + bonus)
    if refund > 0:
        self._push(requester, refund)
    log JobSettled(job_id=job_id, provider=provider, requester=requester, price=price, fee=fee, refund=refund)


@pure
@internal
def _price(base_price: uint256, price_per_kwh: uint256, energy_mwh: uint256, max_price: uint256) -> uint256:
    """
    @dev `base + energy_mwh * price_per_kwh / 1e6`, rounded down, capped at `max_price`.
    """
    return min(base_price + energy_mwh * price_per_kwh // _MWH_PER_KWH, max_price)


@internal
def _retire_for_job(job_id: uint256, core: _Core, provider: address, energy_mwh: uint256):
    """
    @dev Retires the provider's RECs for a green job's metered energy in the
         name of the job's certificate beneficiary, with the job id on the
         certificate.
    """
    assert staticcall REC_TOKEN.balanceOf(provider) >= energy_mwh, "market: provider lacks RECs"
    assert staticcall REC_TOKEN.allowance(provider, self) >= energy_mwh, "market: RECs not approved"
    extcall REC_TOKEN.retire_for_job(provider, energy_mwh, self._beneficiary_of(job_id, core), job_id)


@view
@internal
def _beneficiary_of(job_id: uint256, core: _Core) -> address:
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
    provider: address = self._head_of(offer_id).provider
    collateral: uint256 = self._offer_terms[offer_id] >> _COLLATERAL_SHIFT
    free: uint256 = 0
    locked: uint256 = 0
    free, locked = self._split(self._stake[provider])
    self._stake[provider] = self._join(free, locked - collateral)
    return collateral


@internal
def _clear_open_terms(job_id: uint256):
    self._open_model[job_id] = empty(bytes32)
    self._open_min_collateral[job_id] = 0


@internal
def _set_fee(fee_bps: uint256, treasury: address):
    assert fee_bps <= MAX_FEE_BPS, "market: fee too high"
    assert treasury != empty(address), "market: treasury is zero"
    self._fee_word = (self._fee_word >> _ACCRUED_SHIFT << _ACCRUED_SHIFT) | fee_bps
    self.treasury = treasury
    log FeeChanged(fee_bps=fee_bps, treasury=treasury)


@pure
@internal
def _check_limits(width: uint16, height: uint16, steps: uint16):
    assert width >= MIN_IMAGE_SIDE and width <= MAX_IMAGE_SIDE, "market: bad width"
    assert height >= MIN_IMAGE_SIDE and height <= MAX_IMAGE_SIDE, "market: bad height"
    assert steps > 0 and steps <= MAX_STEPS, "market: bad steps"


@view
@internal
def _receipt_digest(receipt: IJobMarket.EnergyReceipt) -> bytes32:
    return eip712_domain_separator._hash_typed_data_v4(
        keccak256(
            abi_encode(
                RECEIPT_TYPEHASH,
                receipt.job_id,
                receipt.result_hash,
                receipt.started_at,
                receipt.finished_at,
                receipt.energy_mwh,
                receipt.meter_start,
                receipt.meter_end,
            )
        )
    )


@internal
def _pull(owner: address, amount: uint256):
    assert extcall PAYMENT_TOKEN.transferFrom(owner, self, amount, default_return_value=True), "market: transfer in failed"


@internal
def _push(to: address, amount: uint256):
    assert extcall PAYMENT_TOKEN.transfer(to, amount, default_return_value=True), "market: transfer out failed"


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


@view
@internal
def _head_of(offer_id: uint256) -> _OfferHead:
    word: uint256 = self._offer_head[offer_id]
    return _OfferHead(
        provider=convert(convert(word % 2**160, uint160), address),
        site_id=(word >> _SITE_SHIFT) % 2**48,
        active=(word >> _ACTIVE_SHIFT) % 2 == 1,
        max_width=(word >> _WIDTH_SHIFT) % 2**12,
        max_height=(word >> _HEIGHT_SHIFT) % 2**12,
        max_steps=(word >> _STEPS_SHIFT) % 2**9,
        green=(word >> _OFFER_GREEN_SHIFT) % 2 == 1,
    )


@pure
@internal
def _pack_head(head: _OfferHead) -> uint256:
    return (
        convert(head.provider, uint256)
        | (head.site_id << _SITE_SHIFT)
        | (convert(head.active, uint256) << _ACTIVE_SHIFT)
        | (head.max_width << _WIDTH_SHIFT)
        | (head.max_height << _HEIGHT_SHIFT)
        | (head.max_steps << _STEPS_SHIFT)
        | (convert(head.green, uint256) << _OFFER_GREEN_SHIFT)
    )


@view
@internal
def _terms_of(offer_id: uint256) -> (uint256, uint256, uint256):
    """
    @dev An offer's (base price, price per kWh, collateral).
    """
    word: uint256 = self._offer_terms[offer_id]
    return word % 2**_RATE_SHIFT, (word >> _RATE_SHIFT) % 2**80, word >> _COLLATERAL_SHIFT


@pure
@internal
def _split(word: uint256) -> (uint256, uint256):
    return word % 2**_HIGH, word >> _HIGH


@pure
@internal
def _join(low: uint256, high: uint256) -> uint256:
    return low | (high << _HIGH)
