// SPDX-License-Identifier: AGPL-3.0-only
pragma solidity ^0.8.20;

/// @title IAkreToken
/// @notice The DeGEN payment token: ERC-20 with EIP-2612 `permit` (snekmate), 18 decimals; its
///     owner manages minters. Every function and event (a test holds this file equal to the
///     compiled ABI).
interface IAkreToken {
    event OwnershipTransferred(address indexed previous_owner, address indexed new_owner);
    event RoleMinterChanged(address indexed minter, bool status);
    event Transfer(address indexed sender, address indexed receiver, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    function owner() external view returns (address);
    function eip712Domain() external view returns (bytes1, string memory, string memory, uint256, address, bytes32, uint256[] memory);
    function transfer(address to, uint256 amount) external returns (bool);
    function approve(address spender, uint256 amount) external returns (bool);
    function transferFrom(address owner, address to, uint256 amount) external returns (bool);
    function burn(uint256 amount) external;
    function burn_from(address owner, uint256 amount) external;
    function mint(address owner, uint256 amount) external;
    function set_minter(address minter, bool status) external;
    function permit(address owner, address spender, uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s) external;
    function DOMAIN_SEPARATOR() external view returns (bytes32);
    function transfer_ownership(address new_owner) external;
    function renounce_ownership() external;
    function name() external view returns (string memory);
    function symbol() external view returns (string memory);
    function decimals() external view returns (uint8);
    function balanceOf(address arg0) external view returns (uint256);
    function allowance(address arg0, address arg1) external view returns (uint256);
    function totalSupply() external view returns (uint256);
    function is_minter(address arg0) external view returns (bool);
    function nonces(address arg0) external view returns (uint256);
}
