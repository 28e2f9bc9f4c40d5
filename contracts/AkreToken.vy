# pragma version ~=0.4.3
"""
@title AkreToken
@custom:contract-name AkreToken
@license GNU Affero General Public License v3.0 only
@notice The DeGEN payment token: an ERC-20 with EIP-2612 `permit`,
        18 decimals, built on snekmate's `erc20` module. The whole
        initial supply is minted to the deployer.
@custom:kill The token cannot be paused or stopped: it only holds balances.
             To retire it, the owner calls `renounce_ownership`, which also
             removes every minter, so no new supply can ever be created.
"""


# @dev The token logic and its ownership.
from snekmate.auth import ownable
initializes: ownable

# @dev ERC-20 + EIP-2612 from snekmate; minting is owner-managed.
from snekmate.tokens import erc20
initializes: erc20[ownable := ownable]

exports: erc20.__interface__


@deploy
def __init__(initial_supply_: uint256):
    """
    @dev Mints `initial_supply_` base units (18 decimals) to the deployer.
    @param initial_supply_ The initial supply in base units.
    """
    ownable.__init__()
    erc20.__init__("DeGEN Akre", "AKRE", 18, "AkreToken", "1")
    erc20._mint(msg.sender, initial_supply_)
