# pragma version ~=0.4.3
"""
@title ownerless
@custom:contract-name ownerless
@license GNU Affero General Public License v3.0 only
@notice For tokens built on snekmate's ERC-20, which names its deployer owner
        and minter at deployment (and logs both): gives both up again in the
        same transaction, logged the same way, so that indexers reading
        `OwnershipTransferred` and `RoleMinterChanged` see a token with no
        owner and no minter — which is what it is.
"""


from snekmate.auth import ownable
uses: ownable
from snekmate.tokens import erc20
uses: erc20


@internal
def _give_up_deployer_powers():
    """
    @dev Call from the constructor, after `erc20.__init__`.
    """
    erc20.is_minter[msg.sender] = False
    log erc20.RoleMinterChanged(minter=msg.sender, status=False)
    ownable._transfer_ownership(empty(address))
