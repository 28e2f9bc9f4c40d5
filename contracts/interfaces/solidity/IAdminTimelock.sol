// SPDX-License-Identifier: AGPL-3.0-only
pragma solidity ^0.8.20;

/// @title IAdminTimelock
/// @notice The AdminTimelock's complete external interface (snekmate's TimelockController):
///     operations proposed, delayed and executed, the roles that may do so, and the receiver
///     hooks for tokens. Every function and event (a test holds this file equal to the compiled
///     ABI). `get_operation_state` answers a flag: 1 unset, 2 waiting, 4 ready, 8 done.
interface IAdminTimelock {
    event RoleGranted(bytes32 indexed role, address indexed account, address indexed sender);
    event RoleRevoked(bytes32 indexed role, address indexed account, address indexed sender);
    event RoleAdminChanged(bytes32 indexed role, bytes32 indexed previousAdminRole, bytes32 indexed newAdminRole);
    event MinimumDelayChange(uint256 old_duration, uint256 new_duration);
    event CallScheduled(bytes32 indexed id, uint256 indexed index, address target, uint256 amount, bytes payload, bytes32 predecessor, uint256 delay);
    event CallSalt(bytes32 indexed id, bytes32 salt);
    event Cancelled(bytes32 indexed id);
    event CallExecuted(bytes32 indexed id, uint256 indexed index, address target, uint256 amount, bytes payload);

    function DEFAULT_ADMIN_ROLE() external view returns (bytes32);
    function hasRole(bytes32 arg0, address arg1) external view returns (bool);
    function getRoleAdmin(bytes32 arg0) external view returns (bytes32);
    function grantRole(bytes32 role, address account) external;
    function revokeRole(bytes32 role, address account) external;
    function renounceRole(bytes32 role, address account) external;
    function set_role_admin(bytes32 role, bytes32 admin_role) external;
    function supportsInterface(bytes4 interface_id) external view returns (bool);
    function is_operation(bytes32 id) external view returns (bool);
    function is_operation_pending(bytes32 id) external view returns (bool);
    function is_operation_ready(bytes32 id) external view returns (bool);
    function is_operation_done(bytes32 id) external view returns (bool);
    function get_operation_state(bytes32 id) external view returns (uint256);
    function hash_operation(address target, uint256 amount, bytes calldata payload, bytes32 predecessor, bytes32 salt) external pure returns (bytes32);
    function hash_operation_batch(address[] calldata targets, uint256[] calldata amounts, bytes[] calldata payloads, bytes32 predecessor, bytes32 salt) external pure returns (bytes32);
    function schedule(address target, uint256 amount, bytes calldata payload, bytes32 predecessor, bytes32 salt, uint256 delay) external;
    function schedule_batch(address[] calldata targets, uint256[] calldata amounts, bytes[] calldata payloads, bytes32 predecessor, bytes32 salt, uint256 delay) external;
    function cancel(bytes32 id) external;
    function execute(address target, uint256 amount, bytes calldata payload, bytes32 predecessor, bytes32 salt) external payable;
    function execute_batch(address[] calldata targets, uint256[] calldata amounts, bytes[] calldata payloads, bytes32 predecessor, bytes32 salt) external payable;
    function update_delay(uint256 new_delay) external;
    function onERC721Received(address operator, address owner, uint256 token_id, bytes calldata data) external returns (bytes4);
    function onERC1155Received(address operator, address owner, uint256 id, uint256 amount, bytes calldata data) external returns (bytes4);
    function onERC1155BatchReceived(address operator, address owner, uint256[] calldata ids, uint256[] calldata amounts, bytes calldata data) external returns (bytes4);
    function PROPOSER_ROLE() external view returns (bytes32);
    function EXECUTOR_ROLE() external view returns (bytes32);
    function CANCELLER_ROLE() external view returns (bytes32);
    function IERC721_TOKENRECEIVER_SELECTOR() external view returns (bytes4);
    function IERC1155_TOKENRECEIVER_SINGLE_SELECTOR() external view returns (bytes4);
    function IERC1155_TOKENRECEIVER_BATCH_SELECTOR() external view returns (bytes4);
    function get_timestamp(bytes32 arg0) external view returns (uint256);
    function get_minimum_delay() external view returns (uint256);
}
