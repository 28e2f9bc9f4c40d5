# pragma version ~=0.4.3
"""
@title AdminTimelock
@custom:contract-name AdminTimelock
@license GNU Affero General Public License v3.0 only
@notice The admin of DeGEN's trust layer, behind a delay: it holds
        DEFAULT_ADMIN_ROLE of the RECToken, the SiteRegistry and the
        JobMarket and is the OracleCommittee's admin, so a change of the
        committee's members, threshold or bonds, or of who holds a role,
        is proposed (`schedule`), waits `get_minimum_delay` seconds in the
        open (events at both ends) and only then executes. snekmate's
        TimelockController, deployed as it is.
@custom:kill A canceller `cancel`s a pending operation; the delay itself
             changes only through a timelocked operation on this contract.
"""


# @dev Roles of the timelock: proposer, executor, canceller, admin.
from snekmate.auth import access_control
initializes: access_control

# @dev The delay, the operations and their events.
from snekmate.governance import timelock_controller
initializes: timelock_controller[access_control := access_control]

exports: timelock_controller.__interface__


@deploy
@payable
def __init__(minimum_delay_: uint256, proposers_: DynArray[address, 255], executors_: DynArray[address, 255], admin_: address):
    """
    @dev See snekmate's TimelockController: the deployer keeps no role.
    @param minimum_delay_ The least delay of an operation, seconds.
    @param proposers_ Who may propose (and cancel) operations.
    @param executors_ Who may execute a ready operation.
    @param admin_ An optional admin for the initial set-up (zero: none).
    """
    access_control.__init__()
    timelock_controller.__init__(minimum_delay_, proposers_, executors_, admin_)
