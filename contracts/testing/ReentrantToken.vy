# pragma version ~=0.4.3
"""
@title ReentrantToken
@custom:contract-name ReentrantToken
@license GNU Affero General Public License v3.0 only
@notice TEST ONLY: a hostile ERC-20 that, when armed, calls back into a
        target (the JobMarket) from inside `transfer`, to prove the market's
        reentrancy locks hold. Never deploy it anywhere real.
@custom:kill Test fixture; it holds nothing of value.
"""

from ethereum.ercs import IERC20
implements: IERC20


# @dev ERC-20 state.
balanceOf: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])
totalSupply: public(uint256)

# @dev The call made from inside the next `transfer`, if armed.
target: public(address)
payload: public(Bytes[256])
armed: public(bool)
# @dev What the reentrant call did: whether it succeeded and its revert data.
reentry_succeeded: public(bool)
reentry_result: public(Bytes[256])


event Transfer:
    sender: indexed(address)
    receiver: indexed(address)
    value: uint256

event Approval:
    owner: indexed(address)
    spender: indexed(address)
    value: uint256


@deploy
def __init__(supply_: uint256):
    self.balanceOf[msg.sender] = supply_
    self.totalSupply = supply_


@external
def arm(target: address, payload: Bytes[256]):
    """
    @notice Makes the next `transfer` call `target` with `payload` first.
    """
    self.target = target
    self.payload = payload
    self.armed = True


@external
def transfer(receiver: address, amount: uint256) -> bool:
    if self.armed:
        self.armed = False
        ok: bool = False
        result: Bytes[256] = b""
        ok, result = raw_call(self.target, self.payload, max_outsize=256, revert_on_failure=False)
        self.reentry_succeeded = ok
        self.reentry_result = result
    self.balanceOf[msg.sender] -= amount
    self.balanceOf[receiver] += amount
    log Transfer(sender=msg.sender, receiver=receiver, value=amount)
    return True


@external
def transferFrom(owner: address, receiver: address, amount: uint256) -> bool:
    self.allowance[owner][msg.sender] -= amount
    self.balanceOf[owner] -= amount
    self.balanceOf[receiver] += amount
    log Transfer(sender=owner, receiver=receiver, value=amount)
    return True


@external
def approve(spender: address, amount: uint256) -> bool:
    self.allowance[msg.sender][spender] = amount
    log Approval(owner=msg.sender, spender=spender, value=amount)
    return True
