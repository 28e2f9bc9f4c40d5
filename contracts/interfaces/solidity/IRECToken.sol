// SPDX-License-Identifier: AGPL-3.0-only
pragma solidity ^0.8.20;

/// @title IRECToken
/// @notice RECToken's complete external interface: ERC-20 with EIP-2612 `permit`, issuance
///     against evidence, retirement (own, on behalf of a holder, or by the market for a green
///     job), dissipation and the supply counters. Every function and event (a test holds this
///     file equal to the compiled ABI).
interface IRECToken {
    /// @dev One period of one site's generation, as the issuer submits it.
    struct IssuanceRequest {
        uint256 site_id;
        uint256 period_start;
        uint256 period_end;
        uint256 energy_mwh;
        bytes32 evidence_root;
    }

    /// @dev An issuance as recorded (its evidence root is in the `Issued` event).
    struct Issuance {
        uint256 site_id;
        uint256 period_start;
        uint256 period_end;
        uint256 energy_mwh;
        uint256 issued_at;
    }

    event Issued(uint256 indexed issuance_id, uint256 indexed site_id, address indexed owner, uint256 period_start, uint256 period_end, uint256 energy_mwh, bytes32 evidence_root);
    event Retired(uint256 indexed certificate_id, address indexed retired_by, address indexed beneficiary, uint256 amount_mwh, uint256 job_id);
    event Dissipated(address indexed holder, uint256 amount_mwh);
    event RoleGranted(bytes32 indexed role, address indexed account, address indexed sender);
    event OwnershipTransferred(address indexed previous_owner, address indexed new_owner);
    event RoleMinterChanged(address indexed minter, bool status);
    event RoleRevoked(bytes32 indexed role, address indexed account, address indexed sender);
    event RoleAdminChanged(bytes32 indexed role, bytes32 indexed previousAdminRole, bytes32 indexed newAdminRole);
    event Transfer(address indexed sender, address indexed receiver, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    function supportsInterface(bytes4 interface_id) external view returns (bool);
    function grantRole(bytes32 role, address account) external;
    function revokeRole(bytes32 role, address account) external;
    function renounceRole(bytes32 role, address account) external;
    function set_role_admin(bytes32 role, bytes32 admin_role) external;
    function DEFAULT_ADMIN_ROLE() external view returns (bytes32);
    function hasRole(bytes32 arg0, address arg1) external view returns (bool);
    function getRoleAdmin(bytes32 arg0) external view returns (bytes32);
    function transfer(address to, uint256 amount) external returns (bool);
    function transferFrom(address owner, address to, uint256 amount) external returns (bool);
    function approve(address spender, uint256 amount) external returns (bool);
    function balanceOf(address arg0) external view returns (uint256);
    function allowance(address arg0, address arg1) external view returns (uint256);
    function totalSupply() external view returns (uint256);
    function name() external view returns (string memory);
    function symbol() external view returns (string memory);
    function decimals() external view returns (uint8);
    function permit(address owner, address spender, uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s) external;
    function nonces(address arg0) external view returns (uint256);
    function DOMAIN_SEPARATOR() external view returns (bytes32);
    function eip712Domain() external view returns (bytes1, string memory, string memory, uint256, address, bytes32, uint256[] memory);
    function issue(uint256 site_id, uint256 period_start, uint256 period_end, uint256 energy_mwh, bytes32 evidence_root) external returns (uint256);
    function issue_batch(IssuanceRequest[] calldata requests) external returns (uint256[] memory);
    function retire(uint256 amount_mwh, address beneficiary, string calldata beneficiary_name, string calldata reason) external returns (uint256);
    function retire_from(address owner, uint256 amount_mwh, address beneficiary, string calldata beneficiary_name, string calldata reason) external returns (uint256);
    function retire_for_job(address provider, uint256 amount_mwh, address beneficiary, uint256 job_id) external returns (uint256);
    function retire_for_channel(address provider, uint256 amount_mwh, address beneficiary, uint256 channel_id, bytes32 receipts_root) external returns (uint256);
    function dissipate(uint256 amount_mwh) external;
    function total_dissipated() external view returns (uint256);
    function site_issued(uint256 site_id) external view returns (uint256);
    function high_water_mark(uint256 site_id) external view returns (uint256);
    function issuance(uint256 issuance_id) external view returns (Issuance memory);
    function ISSUER_ROLE() external view returns (bytes32);
    function MARKET_ROLE() external view returns (bytes32);
    function MAX_PERIOD() external view returns (uint256);
    function MAX_BATCH() external view returns (uint256);
    function SITE_REGISTRY() external view returns (address);
    function CERTIFICATE() external view returns (address);
    function MIN_RETIREMENT_MWH() external view returns (uint256);
    function issuance_count() external view returns (uint256);
    function total_issued() external view returns (uint256);
    function total_retired() external view returns (uint256);
}
