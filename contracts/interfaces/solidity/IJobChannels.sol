// SPDX-License-Identifier: AGPL-3.0-only
pragma solidity ^0.8.20;

/// @title IJobChannels
/// @notice The channels' complete external interface: opening with a deposit for one site,
///     top-ups, the notice before withdrawal, redemption of cumulative EIP-712 vouchers, and the
///     order and voucher digests. Every function and event (a test holds this file equal to the
///     compiled ABI); docs/SPEC.md ("Channels") has the rules.
interface IJobChannels {
    /// @dev A channel as it stands.
    struct Channel {
        address requester;
        uint256 site_id;
        address beneficiary;
        uint256 deposit;
        uint256 redeemed;
        uint256 redeemed_mwh;
        uint256 redeemed_green_mwh;
        uint256 jobs;
        uint256 closes_at;
        bool closed;
    }

    /// @dev One job asked of the channel's site, signed (EIP-712) by the requester.
    struct JobOrder {
        uint256 channel_id;
        uint64 nonce;
        bytes32 model_id;
        bytes32 prompt_hash;
        uint16 width;
        uint16 height;
        uint16 steps;
        uint16 guidance_x100;
        uint64 seed;
        uint96 max_price;
        bool green;
        uint64 expiry;
    }

    /// @dev What the requester owes the site so far, cumulative, signed (EIP-712) by the requester.
    struct Voucher {
        uint256 channel_id;
        uint32 jobs;
        uint96 amount;
        uint64 energy_mwh;
        uint64 green_mwh;
        bytes32 receipts_root;
    }

    event ChannelOpened(uint256 indexed channel_id, address indexed requester, uint256 indexed site_id, uint256 deposit, address beneficiary);
    event ChannelToppedUp(uint256 indexed channel_id, uint256 amount, uint256 deposit);
    event ChannelClosing(uint256 indexed channel_id, uint256 closes_at);
    event ChannelClosed(uint256 indexed channel_id, uint256 refund);
    event VoucherRedeemed(uint256 indexed channel_id, address indexed provider, uint256 jobs, uint256 paid, uint256 fee, uint256 energy_mwh, uint256 green_mwh, bytes32 receipts_root, uint256 certificate_id);
    event Paused(address account);
    event Unpaused(address account);
    event RoleGranted(bytes32 indexed role, address indexed account, address indexed sender);
    event RoleRevoked(bytes32 indexed role, address indexed account, address indexed sender);
    event RoleAdminChanged(bytes32 indexed role, bytes32 indexed previousAdminRole, bytes32 indexed newAdminRole);

    function open_channel(uint256 site_id, uint256 deposit, address beneficiary) external returns (uint256);
    function open_channel_with_permit(uint256 site_id, uint256 deposit, address beneficiary, uint256 permit_deadline, uint8 v, bytes32 r, bytes32 s) external returns (uint256);
    function top_up(uint256 channel_id, uint256 amount) external;
    function close(uint256 channel_id) external;
    function withdraw(uint256 channel_id) external;
    function redeem(Voucher calldata voucher, bytes calldata signature) external returns (uint256);
    function pause() external;
    function unpause() external;
    function channel(uint256 channel_id) external view returns (Channel memory);
    function voucher_digest(Voucher calldata voucher) external view returns (bytes32);
    function order_digest(JobOrder calldata order) external view returns (bytes32);
    function channel_count() external view returns (uint256);
    function JOB_MARKET() external view returns (address);
    function REC_TOKEN() external view returns (address);
    function NOTICE_PERIOD() external view returns (uint256);
    function PAYMENT_TOKEN() external view returns (address);
    function SITE_REGISTRY() external view returns (address);
    function paused() external view returns (bool);
    function eip712Domain() external view returns (bytes1, string memory, string memory, uint256, address, bytes32, uint256[] memory);
    function PAUSER_ROLE() external view returns (bytes32);
    function MAX_DEPOSIT() external view returns (uint256);
    function MIN_NOTICE() external view returns (uint256);
    function MAX_NOTICE() external view returns (uint256);
    function ORDER_TYPEHASH() external view returns (bytes32);
    function VOUCHER_TYPEHASH() external view returns (bytes32);
    function supportsInterface(bytes4 interface_id) external view returns (bool);
    function grantRole(bytes32 role, address account) external;
    function revokeRole(bytes32 role, address account) external;
    function renounceRole(bytes32 role, address account) external;
    function set_role_admin(bytes32 role, bytes32 admin_role) external;
    function DEFAULT_ADMIN_ROLE() external view returns (bytes32);
    function hasRole(bytes32 arg0, address arg1) external view returns (bool);
    function getRoleAdmin(bytes32 arg0) external view returns (bytes32);
}
