# pragma version ~=0.4.3
"""
@title JobChannels
@custom:contract-name JobChannels
@license GNU Affero General Public License v3.0 only
@notice Pay-as-you-go channels between a requester and one DER site: many
        small jobs without a transaction each. The requester deposits AKRE
        for the site. Off chain it signs an EIP-712 JobOrder per job and,
        once it has checked the image and its energy receipt, a cumulative
        Voucher: the jobs, the AKRE owed, the mWh metered and the mWh of
        green jobs so far, and the root of the receipts it covers. The
        site's owner redeems the latest voucher whenever it chooses, in one
        transaction for any number of jobs: what it adds over the voucher
        redeemed before is paid to the owner minus the JobMarket's protocol
        fee (sent to the market's treasury), and the green energy it adds is
        retired in the owner's RECs in the channel beneficiary's name, on
        one certificate naming the receipts' root. The requester takes the
        rest back only after a notice, during which the owner can still
        redeem. See docs/SPEC.md, "Channels".
@custom:kill A PAUSER_ROLE holder calls `pause`: no channel can be opened
             or topped up; redemption, closing and withdrawal go on, so no
             funds are stranded.
"""


# @dev The payment token (AKRE) is an ERC-20.
from ethereum.ercs import IERC20

# @dev The public interfaces of this contract and the ones it calls.
from .interfaces import IJobChannels
implements: IJobChannels
from .interfaces import IJobMarket
from .interfaces import ISiteRegistry
from .interfaces import IRECToken

# @dev Roles: admin, pauser.
from snekmate.auth import access_control
initializes: access_control

# @dev Emergency stop for new channels and top-ups.
from snekmate.utils import pausable
initializes: pausable

# @dev The EIP-712 domain of orders and vouchers ("DeGEN JobChannels", "1").
from snekmate.utils import eip712_domain_separator
initializes: eip712_domain_separator

# @dev Signature recovery (65 bytes, low s).
from snekmate.utils import ecdsa

# @dev AKRE in and out.
from .modules import payments
initializes: payments

# @dev The site registry channels trust for a site's owner and status.
from .modules import sites
initializes: sites

exports: (
    access_control.__interface__,
    pausable.paused,
    eip712_domain_separator.eip712Domain,
    payments.PAYMENT_TOKEN,
    sites.SITE_REGISTRY,
)


# @dev The role that may pause and unpause opening and topping up.
PAUSER_ROLE: public(constant(bytes32)) = keccak256("PAUSER_ROLE")
# @dev Bounds: amounts and counters are packed into storage words.
MAX_DEPOSIT: public(constant(uint256)) = 2**96 - 1
MIN_NOTICE: public(constant(uint256)) = 3600
MAX_NOTICE: public(constant(uint256)) = 30 * 86400
_BPS: constant(uint256) = 10_000

ORDER_TYPEHASH: public(constant(bytes32)) = keccak256(
    "JobOrder(uint256 channel_id,uint64 nonce,bytes32 model_id,bytes32 prompt_hash,uint16 width,uint16 height,uint16 steps,uint16 guidance_x100,uint64 seed,uint96 max_price,bool green,uint64 expiry)"
)
VOUCHER_TYPEHASH: public(constant(bytes32)) = keccak256(
    "Voucher(uint256 channel_id,uint32 jobs,uint96 amount,uint64 energy_mwh,uint64 green_mwh,bytes32 receipts_root)"
)

# @dev Bit layouts of a channel's three words.
_DEPOSIT_SHIFT: constant(uint256) = 160  # requester | deposit
_ENERGY_SHIFT: constant(uint256) = 96  # amount | energy | green | jobs
_GREEN_SHIFT: constant(uint256) = 160
_JOBS_SHIFT: constant(uint256) = 224
_CLOSES_SHIFT: constant(uint256) = 64  # site | closes_at | closed | own beneficiary
_CLOSED_BIT: constant(uint256) = 2**128
_OWN_BENEFICIARY_BIT: constant(uint256) = 2**129


# @dev The market whose protocol fee and treasury redemptions pay.
JOB_MARKET: public(immutable(IJobMarket))
# @dev The REC token green jobs' energy is retired in.
REC_TOKEN: public(immutable(IRECToken))
# @dev How long a requester waits between `close` and `withdraw`.
NOTICE_PERIOD: public(immutable(uint256))

# @dev Number of channels opened; ids start at 1.
channel_count: public(uint256)
# @dev Per channel: requester (160 bits) | deposit (96).
_party: HashMap[uint256, uint256]
# @dev Per channel, as of the last redeemed voucher: amount (96) | energy (64) | green energy (64) | jobs (32).
_redeemed: HashMap[uint256, uint256]
# @dev Per channel: site id (64) | closes_at (64) | closed (1) | beneficiary stored (1).
_terms: HashMap[uint256, uint256]
# @dev Per channel whose certificates go to someone other than the requester: who.
_beneficiary: HashMap[uint256, address]


event ChannelOpened:
    channel_id: indexed(uint256)
    requester: indexed(address)
    site_id: indexed(uint256)
    deposit: uint256
    beneficiary: address

event ChannelToppedUp:
    channel_id: indexed(uint256)
    amount: uint256
    deposit: uint256

event ChannelClosing:
    channel_id: indexed(uint256)
    closes_at: uint256

event ChannelClosed:
    channel_id: indexed(uint256)
    refund: uint256

event VoucherRedeemed:
    channel_id: indexed(uint256)
    provider: indexed(address)
    jobs: uint256
    paid: uint256
    fee: uint256
    energy_mwh: uint256
    green_mwh: uint256
    receipts_root: bytes32
    certificate_id: uint256


@deploy
def __init__(
    payment_token_: IERC20,
    site_registry_: ISiteRegistry,
    rec_token_: IRECToken,
    job_market_: IJobMarket,
    notice_period_: uint256,
):
    """
    @dev The deployer receives DEFAULT_ADMIN_ROLE and PAUSER_ROLE.
    @param payment_token_ The AKRE token.
    @param site_registry_ The site registry.
    @param rec_token_ The REC token (this contract needs its MARKET_ROLE).
    @param job_market_ The market whose fee and treasury apply.
    @param notice_period_ Seconds between `close` and `withdraw`.
    """
    assert notice_period_ >= MIN_NOTICE and notice_period_ <= MAX_NOTICE, "channels: notice out of bounds"
    access_control.__init__()
    access_control._grant_role(PAUSER_ROLE, msg.sender)
    pausable.__init__()
    eip712_domain_separator.__init__("DeGEN JobChannels", "1")
    payments.__init__(payment_token_)
    sites.__init__(site_registry_)
    REC_TOKEN = rec_token_
    JOB_MARKET = job_market_
    NOTICE_PERIOD = notice_period_


# ---------------------------------------------------------------- the requester


@external
@nonreentrant
def open_channel(site_id: uint256, deposit: uint256, beneficiary: address) -> uint256:
    """
    @notice Opens a channel with an active site and deposits `deposit` AKRE
            (approved to this contract) for its jobs.
    @param site_id The site.
    @param deposit AKRE base units, more than zero.
    @param beneficiary In whose name green jobs' RECs are retired (zero: the caller).
    @return uint256 The channel id.
    """
    return self._open(site_id, deposit, beneficiary)


@external
@nonreentrant
def open_channel_with_permit(
    site_id: uint256, deposit: uint256, beneficiary: address, permit_deadline: uint256, v: uint8, r: bytes32, s: bytes32
) -> uint256:
    """
    @notice Like `open_channel`, with an EIP-2612 permit for `deposit` in the
            same transaction. A permit that fails (front-run, expired) is
            ignored: the deposit still needs the allowance.
    @return uint256 The channel id.
    """
    permitted: bool = raw_call(
        payments.PAYMENT_TOKEN.address,
        abi_encode(
            msg.sender, self, deposit, permit_deadline, v, r, s,
            method_id=method_id("permit(address,address,uint256,uint256,uint8,bytes32,bytes32)"),
        ),
        revert_on_failure=False,
    )
    return self._open(site_id, deposit, beneficiary)


@external
@nonreentrant
def top_up(channel_id: uint256, amount: uint256):
    """
    @notice Adds `amount` AKRE (approved) to an open channel's deposit. Its requester only.
    @param channel_id The channel.
    @param amount AKRE base units, more than zero.
    """
    pausable._require_not_paused()
    party: uint256 = self._party[channel_id]
    assert party != 0, "channels: unknown channel"
    assert self._requester(party) == msg.sender, "channels: not the requester"
    assert (self._terms[channel_id] >> _CLOSES_SHIFT) % 2**64 == 0, "channels: channel closing"
    assert amount > 0, "channels: zero amount"
    deposit: uint256 = (party >> _DEPOSIT_SHIFT) + amount
    assert deposit <= MAX_DEPOSIT, "channels: deposit too large"
    self._party[channel_id] = (party % 2**_DEPOSIT_SHIFT) | (deposit << _DEPOSIT_SHIFT)
    payments._pull(msg.sender, amount)
    log ChannelToppedUp(channel_id=channel_id, amount=amount, deposit=deposit)


@external
def close(channel_id: uint256):
    """
    @notice Starts the notice after which the requester may withdraw what no
            voucher was redeemed for; the site's owner can redeem until then.
    @param channel_id The channel.
    """
    party: uint256 = self._party[channel_id]
    assert party != 0, "channels: unknown channel"
    assert self._requester(party) == msg.sender, "channels: not the requester"
    terms: uint256 = self._terms[channel_id]
    assert (terms >> _CLOSES_SHIFT) % 2**64 == 0, "channels: channel closing"
    closes_at: uint256 = block.timestamp + NOTICE_PERIOD
    self._terms[channel_id] = terms | (closes_at << _CLOSES_SHIFT)
    log ChannelClosing(channel_id=channel_id, closes_at=closes_at)


@external
@nonreentrant
def withdraw(channel_id: uint256):
    """
    @notice After the notice, pays the requester the deposit no redeemed
            voucher claims and closes the channel for good.
    @param channel_id The channel.
    """
    party: uint256 = self._party[channel_id]
    assert party != 0, "channels: unknown channel"
    requester: address = self._requester(party)
    assert requester == msg.sender, "channels: not the requester"
    terms: uint256 = self._terms[channel_id]
    assert terms & _CLOSED_BIT == 0, "channels: channel closed"
    closes_at: uint256 = (terms >> _CLOSES_SHIFT) % 2**64
    assert closes_at != 0, "channels: not closing"
    assert block.timestamp >= closes_at, "channels: notice not over"
    refund: uint256 = (party >> _DEPOSIT_SHIFT) - self._redeemed[channel_id] % 2**_ENERGY_SHIFT
    self._terms[channel_id] = terms | _CLOSED_BIT
    if refund > 0:
        payments._push(requester, refund)
    log ChannelClosed(channel_id=channel_id, refund=refund)


# ---------------------------------------------------------------- the site's owner


@external
@nonreentrant
def redeem(voucher: IJobChannels.Voucher, signature: Bytes[65]) -> uint256:
    """
    @notice Redeems the requester's latest voucher: pays the site's owner
            (the caller) what it adds over the last redeemed one, minus the
            JobMarket's protocol fee, and retires the green energy it adds
            in the caller's RECs (approved to this contract) in the
            channel beneficiary's name. Until the channel is withdrawn.
    @param voucher The cumulative voucher.
    @param signature The requester's EIP-712 signature (65 bytes).
    @return uint256 The certificate id (0 when it adds no green energy).
    """
    channel_id: uint256 = voucher.channel_id
    party: uint256 = self._party[channel_id]
    assert party != 0, "channels: unknown channel"
    terms: uint256 = self._terms[channel_id]
    assert terms & _CLOSED_BIT == 0, "channels: channel closed"
    site_id: uint256 = terms % 2**_CLOSES_SHIFT
    assert staticcall sites.SITE_REGISTRY.owner_of(site_id) == msg.sender, "channels: not the site's owner"

    last: uint256 = self._redeemed[channel_id]
    last_amount: uint256 = last % 2**_ENERGY_SHIFT
    last_energy: uint256 = (last >> _ENERGY_SHIFT) % 2**64
    last_green: uint256 = (last >> _GREEN_SHIFT) % 2**64
    amount: uint256 = convert(voucher.amount, uint256)
    energy: uint256 = convert(voucher.energy_mwh, uint256)
    green: uint256 = convert(voucher.green_mwh, uint256)
    assert convert(voucher.jobs, uint256) > last >> _JOBS_SHIFT, "channels: voucher not newer"
    assert amount >= last_amount and energy >= last_energy and green >= last_green, "channels: voucher below the last"
    assert green <= energy, "channels: green energy above energy"
    assert amount <= party >> _DEPOSIT_SHIFT, "channels: voucher over the deposit"
    assert len(signature) == 65, "channels: signature not 65 bytes"
    requester: address = self._requester(party)
    assert ecdsa._recover_sig(self._voucher_digest(voucher), signature) == requester, "channels: not signed by the requester"

    self._redeemed[channel_id] = (
        amount | (energy << _ENERGY_SHIFT) | (green << _GREEN_SHIFT) | (convert(voucher.jobs, uint256) << _JOBS_SHIFT)
    )
    owed: uint256 = amount - last_amount
    fee: uint256 = owed * staticcall JOB_MARKET.fee_bps() // _BPS
    if fee > 0:
        payments._push(staticcall JOB_MARKET.treasury(), fee)
    if owed > fee:
        payments._push(msg.sender, owed - fee)
    certificate_id: uint256 = 0
    if green > last_green:
        beneficiary: address = requester
        if terms & _OWN_BENEFICIARY_BIT != 0:
            beneficiary = self._beneficiary[channel_id]
        certificate_id = extcall REC_TOKEN.retire_for_channel(
            msg.sender, green - last_green, beneficiary, channel_id, voucher.receipts_root
        )
    log VoucherRedeemed(
        channel_id=channel_id, provider=msg.sender, jobs=convert(voucher.jobs, uint256), paid=owed - fee, fee=fee,
        energy_mwh=energy - last_energy, green_mwh=green - last_green, receipts_root=voucher.receipts_root,
        certificate_id=certificate_id,
    )
    return certificate_id


# ---------------------------------------------------------------- pauser


@external
def pause():
    """
    @notice Stops opening and topping up channels. Pauser only.
    """
    access_control._check_role(PAUSER_ROLE, msg.sender)
    pausable._pause()


@external
def unpause():
    """
    @notice Resumes opening and topping up channels. Pauser only.
    """
    access_control._check_role(PAUSER_ROLE, msg.sender)
    pausable._unpause()


# ---------------------------------------------------------------- views


@view
@external
def channel(channel_id: uint256) -> IJobChannels.Channel:
    """
    @notice A channel as it stands; reverts for an unknown id.
    @param channel_id The channel.
    @return Channel Its parties, deposit, what was redeemed and its closing.
    """
    party: uint256 = self._party[channel_id]
    assert party != 0, "channels: unknown channel"
    terms: uint256 = self._terms[channel_id]
    last: uint256 = self._redeemed[channel_id]
    requester: address = self._requester(party)
    beneficiary: address = requester
    if terms & _OWN_BENEFICIARY_BIT != 0:
        beneficiary = self._beneficiary[channel_id]
    return IJobChannels.Channel(
        requester=requester,
        site_id=terms % 2**_CLOSES_SHIFT,
        beneficiary=beneficiary,
        deposit=party >> _DEPOSIT_SHIFT,
        redeemed=last % 2**_ENERGY_SHIFT,
        redeemed_mwh=(last >> _ENERGY_SHIFT) % 2**64,
        redeemed_green_mwh=(last >> _GREEN_SHIFT) % 2**64,
        jobs=last >> _JOBS_SHIFT,
        closes_at=(terms >> _CLOSES_SHIFT) % 2**64,
        closed=terms & _CLOSED_BIT != 0,
    )


@view
@external
def voucher_digest(voucher: IJobChannels.Voucher) -> bytes32:
    """
    @notice The EIP-712 digest a requester signs for `voucher`.
    @param voucher The voucher.
    @return bytes32 The digest.
    """
    return self._voucher_digest(voucher)


@view
@external
def order_digest(order: IJobChannels.JobOrder) -> bytes32:
    """
    @notice The EIP-712 digest a requester signs for `order` (checked by the
            site's worker, off chain).
    @param order The order.
    @return bytes32 The digest.
    """
    return eip712_domain_separator._hash_typed_data_v4(
        keccak256(
            concat(
                abi_encode(ORDER_TYPEHASH, order.channel_id, order.nonce, order.model_id, order.prompt_hash),
                abi_encode(order.width, order.height, order.steps, order.guidance_x100, order.seed),
                abi_encode(order.max_price, order.green, order.expiry),
            )
        )
    )


# ---------------------------------------------------------------- internals


@internal
def _open(site_id: uint256, deposit: uint256, beneficiary: address) -> uint256:
    pausable._require_not_paused()
    assert site_id < 2**64 and staticcall sites.SITE_REGISTRY.is_active(site_id), "channels: site not active"
    assert deposit > 0, "channels: zero amount"
    assert deposit <= MAX_DEPOSIT, "channels: deposit too large"
    channel_id: uint256 = self.channel_count + 1
    self.channel_count = channel_id
    self._party[channel_id] = convert(msg.sender, uint256) | (deposit << _DEPOSIT_SHIFT)
    terms: uint256 = site_id
    named: address = msg.sender
    if beneficiary != empty(address) and beneficiary != msg.sender:
        terms |= _OWN_BENEFICIARY_BIT
        self._beneficiary[channel_id] = beneficiary
        named = beneficiary
    self._terms[channel_id] = terms
    payments._pull(msg.sender, deposit)
    log ChannelOpened(channel_id=channel_id, requester=msg.sender, site_id=site_id, deposit=deposit, beneficiary=named)
    return channel_id


@pure
@internal
def _requester(party: uint256) -> address:
    return convert(convert(party % 2**_DEPOSIT_SHIFT, uint160), address)


@view
@internal
def _voucher_digest(voucher: IJobChannels.Voucher) -> bytes32:
    return eip712_domain_separator._hash_typed_data_v4(
        keccak256(
            abi_encode(
                VOUCHER_TYPEHASH,
                voucher.channel_id,
                voucher.jobs,
                voucher.amount,
                voucher.energy_mwh,
                voucher.green_mwh,
                voucher.receipts_root,
            )
        )
    )
