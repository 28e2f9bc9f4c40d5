# pragma version ~=0.4.3
"""
@title stakes
@custom:contract-name stakes
@license GNU Affero General Public License v3.0 only
@notice Providers' AKRE stakes in JobMarket. A stake is free (withdrawable
        at any time) or locked as the collateral of accepted jobs: an
        accept locks an offer's collateral, a settlement releases it, an
        expiry or a lost dispute slashes it to the requester. Both halves
        share one storage word, and a move between them is one addition and
        one subtraction on it: the whole stake never exceeds 2**128 - 1
        (deposits check it) and the locked half always covers what accepted jobs
        locked, so no carry or borrow crosses from one half to the other.
"""


# @dev Stakes move AKRE in and out.
from . import payments
uses: payments


# @dev Upper 128 bits of a stake word: free | locked.
_HIGH: constant(uint256) = 128


# @dev Per provider: free stake | locked stake << 128.
_stake: HashMap[address, uint256]


# @dev A provider added to its stake.
event StakeDeposited:
    provider: indexed(address)
    amount: uint256

# @dev A provider took free stake back.
event StakeWithdrawn:
    provider: indexed(address)
    amount: uint256


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
    # The whole stake, not only its free half, so that a release can never
    # carry the free half into the locked one.
    assert free + locked <= 2**128 - 1, "market: stake too large"
    self._stake[msg.sender] = self._join(free, locked)
    payments._pull(msg.sender, amount)
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
    payments._push(msg.sender, amount)
    log StakeWithdrawn(provider=msg.sender, amount=amount)


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


@internal
def _lock(provider: address, amount: uint256):
    """
    @dev Moves `amount` of the provider's free stake to locked (an accept).
    """
    word: uint256 = self._stake[provider]
    assert amount <= word % 2**_HIGH, "market: insufficient stake"
    self._stake[provider] = word - amount + (amount << _HIGH)


@internal
def _release(provider: address, amount: uint256):
    """
    @dev Moves `amount` of the provider's locked stake back to free (a settlement).
    """
    self._stake[provider] = self._stake[provider] + amount - (amount << _HIGH)


@internal
def _slash(provider: address, amount: uint256):
    """
    @dev Removes `amount` from the provider's locked stake; the caller pays
         it to whoever the provider failed.
    """
    self._stake[provider] -= amount << _HIGH


@pure
@internal
def _split(word: uint256) -> (uint256, uint256):
    return word % 2**_HIGH, word >> _HIGH


@pure
@internal
def _join(low: uint256, high: uint256) -> uint256:
    return low | (high << _HIGH)
