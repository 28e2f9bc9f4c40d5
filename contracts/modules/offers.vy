# pragma version ~=0.4.3
"""
@title offers
@custom:contract-name offers
@license GNU Affero General Public License v3.0 only
@notice Providers' offers in JobMarket: a site, a model, image limits and
        fixed prices and collateral. An offer's site, model, prices and
        collateral never change (close it and create another to reprice),
        so every job is paid under the terms it was accepted on; only its
        image limits may be updated. The image limits here also bound
        every job's parameters.
"""


# @dev The Offer struct of the public interface.
from ..interfaces import IJobMarket

# @dev Offers are published on the registry's active sites.
from . import sites
uses: sites

# @dev No new offer while the market is paused.
from snekmate.utils import pausable
uses: pausable


# @dev Bounds on image sizes and inference steps, for offers and jobs.
MIN_IMAGE_SIDE: public(constant(uint16)) = 64
MAX_IMAGE_SIDE: public(constant(uint16)) = 2048
MAX_STEPS: public(constant(uint16)) = 500
# @dev Money bounds: amounts are packed into storage words.
MAX_COLLATERAL: public(constant(uint256)) = 2**96 - 1
MAX_BASE_PRICE: public(constant(uint256)) = 2**80 - 1
MAX_PRICE_PER_KWH: public(constant(uint256)) = 2**80 - 1

# @dev Bit layout of an offer's head word: provider | site id | active |
# max width (12 bits) | max height (12) | max steps (9) | serves green (1).
_SITE_SHIFT: constant(uint256) = 160
_ACTIVE_SHIFT: constant(uint256) = 208
_WIDTH_SHIFT: constant(uint256) = 209
_HEIGHT_SHIFT: constant(uint256) = 221
_STEPS_SHIFT: constant(uint256) = 233
_GREEN_SHIFT: constant(uint256) = 242
# @dev Bit layout of an offer's terms word: base price (80 bits) |
# price per kWh (80) | collateral (96).
_RATE_SHIFT: constant(uint256) = 80
_COLLATERAL_SHIFT: constant(uint256) = 160


# @dev The decoded head word of an offer.
struct OfferHead:
    provider: address
    site_id: uint256
    active: bool
    max_width: uint256
    max_height: uint256
    max_steps: uint256
    green: bool


# @dev Number of offers created; ids start at 1.
offer_count: public(uint256)

# @dev Per offer: the packed `OfferHead`.
_offer_head: HashMap[uint256, uint256]
# @dev Per offer: base price | price per kWh | collateral (fixed for life).
_offer_terms: HashMap[uint256, uint256]
# @dev Per offer: the model served.
offer_model: HashMap[uint256, bytes32]


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
    assert staticcall sites.SITE_REGISTRY.owner_of(site_id) == msg.sender, "market: not site owner"
    assert staticcall sites.SITE_REGISTRY.is_active(site_id), "market: site not active"
    assert site_id < 2**48, "market: site id too large"
    assert model_id != empty(bytes32), "market: empty model"
    self._check_limits(max_width, max_height, max_steps)
    assert base_price <= MAX_BASE_PRICE and price_per_kwh <= MAX_PRICE_PER_KWH, "market: price too large"
    assert collateral <= MAX_COLLATERAL, "market: collateral too large"

    offer_id: uint256 = self.offer_count + 1
    self.offer_count = offer_id
    self._offer_head[offer_id] = self._pack_head(
        OfferHead(
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
    self.offer_model[offer_id] = model_id
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
    head: OfferHead = self._head_of(offer_id)
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
    head: OfferHead = self._head_of(offer_id)
    assert head.provider == msg.sender, "market: not provider"
    assert head.active, "market: offer closed"
    head.active = False
    self._offer_head[offer_id] = self._pack_head(head)
    log OfferClosed(offer_id=offer_id)


@view
@external
def offer(offer_id: uint256) -> IJobMarket.Offer:
    """
    @notice An offer (zero for unknown ids).
    @param offer_id The offer.
    @return Offer The offer.
    """
    head: OfferHead = self._head_of(offer_id)
    base_price: uint256 = 0
    price_per_kwh: uint256 = 0
    collateral: uint256 = 0
    base_price, price_per_kwh, collateral = self._terms_of(offer_id)
    return IJobMarket.Offer(
        provider=head.provider,
        site_id=head.site_id,
        active=head.active,
        green=head.green,
        model_id=self.offer_model[offer_id],
        max_width=convert(head.max_width, uint16),
        max_height=convert(head.max_height, uint16),
        max_steps=convert(head.max_steps, uint16),
        base_price=base_price,
        price_per_kwh=price_per_kwh,
        collateral=collateral,
    )


@pure
@internal
def _check_limits(width: uint16, height: uint16, steps: uint16):
    """
    @dev Image sides and steps within the market's bounds.
    """
    assert width >= MIN_IMAGE_SIDE and width <= MAX_IMAGE_SIDE, "market: bad width"
    assert height >= MIN_IMAGE_SIDE and height <= MAX_IMAGE_SIDE, "market: bad height"
    assert steps > 0 and steps <= MAX_STEPS, "market: bad steps"


@view
@internal
def _head_of(offer_id: uint256) -> OfferHead:
    word: uint256 = self._offer_head[offer_id]
    return OfferHead(
        provider=convert(convert(word % 2**160, uint160), address),
        site_id=(word >> _SITE_SHIFT) % 2**48,
        active=(word >> _ACTIVE_SHIFT) % 2 == 1,
        max_width=(word >> _WIDTH_SHIFT) % 2**12,
        max_height=(word >> _HEIGHT_SHIFT) % 2**12,
        max_steps=(word >> _STEPS_SHIFT) % 2**9,
        green=(word >> _GREEN_SHIFT) % 2 == 1,
    )


@pure
@internal
def _pack_head(head: OfferHead) -> uint256:
    return (
        convert(head.provider, uint256)
        | (head.site_id << _SITE_SHIFT)
        | (convert(head.active, uint256) << _ACTIVE_SHIFT)
        | (head.max_width << _WIDTH_SHIFT)
        | (head.max_height << _HEIGHT_SHIFT)
        | (head.max_steps << _STEPS_SHIFT)
        | (convert(head.green, uint256) << _GREEN_SHIFT)
    )


@view
@internal
def _terms_of(offer_id: uint256) -> (uint256, uint256, uint256):
    """
    @dev An offer's (base price, price per kWh, collateral).
    """
    word: uint256 = self._offer_terms[offer_id]
    return word % 2**_RATE_SHIFT, (word >> _RATE_SHIFT) % 2**80, word >> _COLLATERAL_SHIFT


@view
@internal
def _collateral_of(offer_id: uint256) -> uint256:
    """
    @dev An offer's collateral alone (one shift instead of three fields).
    """
    return self._offer_terms[offer_id] >> _COLLATERAL_SHIFT
