// SPDX-License-Identifier: AGPL-3.0-only
pragma solidity ^0.8.20;

/// @notice `SiteStatus` values: a Vyper flag, one bit per state in the ABI (a uint256), not an
///     enum index.
/// @dev Lifecycle of a site: registered as PENDING, the registrar activates it after checking
///     the installation, and may suspend it.
library SiteStatuses {
    uint256 internal constant PENDING = 1;
    uint256 internal constant ACTIVE = 2;
    uint256 internal constant SUSPENDED = 4;
}

/// @title ISiteRegistry
/// @notice The DeGEN site registry's complete external interface: who owns a DER site, which
///     key signs its meter readings, its physical limits, where its worker serves results and
///     whether it may trade. Every function and event (a test holds this file equal to the
///     compiled ABI).
interface ISiteRegistry {
    /// @dev Everything recorded about one site.
    struct Site {
        address owner;
        address meter;
        uint32 pv_peak_watts;
        uint32 battery_wh;
        uint32 max_gpu_watts;
        string region;
        uint256 status; // a SiteStatus flag value
        uint64 meter_rotated_at;
    }

    event SiteRegistered(uint256 indexed site_id, address indexed owner, address meter, uint32 pv_peak_watts, uint32 battery_wh, uint32 max_gpu_watts, string region);
    event SiteStatusChanged(uint256 indexed site_id, uint256 status, address indexed registrar);
    event MeterRotated(uint256 indexed site_id, address old_meter, address new_meter);
    event EndpointSet(uint256 indexed site_id, string endpoint);
    event RoleGranted(bytes32 indexed role, address indexed account, address indexed sender);
    event RoleRevoked(bytes32 indexed role, address indexed account, address indexed sender);
    event RoleAdminChanged(bytes32 indexed role, bytes32 indexed previousAdminRole, bytes32 indexed newAdminRole);

    function supportsInterface(bytes4 interface_id) external view returns (bool);
    function grantRole(bytes32 role, address account) external;
    function revokeRole(bytes32 role, address account) external;
    function renounceRole(bytes32 role, address account) external;
    function set_role_admin(bytes32 role, bytes32 admin_role) external;
    function DEFAULT_ADMIN_ROLE() external view returns (bytes32);
    function hasRole(bytes32 arg0, address arg1) external view returns (bool);
    function getRoleAdmin(bytes32 arg0) external view returns (bytes32);
    function register_site(address meter, uint32 pv_peak_watts, uint32 battery_wh, uint32 max_gpu_watts, string calldata region) external returns (uint256);
    function activate(uint256 site_id) external;
    function suspend(uint256 site_id) external;
    function rotate_meter(uint256 site_id, address new_meter) external;
    function set_endpoint(uint256 site_id, string calldata endpoint) external;
    function site(uint256 site_id) external view returns (Site memory);
    function owner_of(uint256 site_id) external view returns (address);
    function is_active(uint256 site_id) external view returns (bool);
    function meter_of(uint256 site_id) external view returns (address, uint256, bool);
    function issuance_limits(uint256 site_id) external view returns (address, uint256, bool);
    function REGISTRAR_ROLE() external view returns (bytes32);
    function MAX_WATTS() external view returns (uint256);
    function MAX_BATTERY_WH() external view returns (uint256);
    function MAX_ENDPOINT_BYTES() external view returns (uint256);
    function site_count() external view returns (uint256);
    function endpoint_of(uint256 arg0) external view returns (string memory);
}
