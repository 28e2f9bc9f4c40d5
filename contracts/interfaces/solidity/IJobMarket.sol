// SPDX-License-Identifier: AGPL-3.0-only
pragma solidity ^0.8.20;

/// @notice `JobState` values: a Vyper flag, one bit per state in the ABI (a uint256), not an
///     enum index.
/// @dev Where a job is in its life (see docs/SPEC.md for the machine).
library JobStates {
    uint256 internal constant OPEN = 1;
    uint256 internal constant ACCEPTED = 2;
    uint256 internal constant DELIVERED = 4;
    uint256 internal constant SETTLED = 8;
    uint256 internal constant CANCELLED = 16;
    uint256 internal constant EXPIRED = 32;
    uint256 internal constant DISPUTED = 64;
    uint256 internal constant REFUNDED = 128;
}

/// @title IJobMarket
/// @notice The DeGEN job market's complete external interface: the types a job is described
///     with, stakes and offers, the job lifecycle, fees, roles and pausing. Every function and
///     event (a test holds this file equal to the compiled ABI); docs/SPEC.md has the rules.
interface IJobMarket {
    /// @dev How the image is to be generated; bounded by the market and, for a directed
    ///     job, by the offer's limits.
    struct GenerationParams {
        uint16 width;
        uint16 height;
        uint16 steps;
        uint16 guidance_x100;
        uint64 seed;
    }

    /// @dev A requester's terms. `offer_id == 0` makes an open job that any provider with
    ///     an offer for `model_id` and enough collateral may accept. A green job must be
    ///     served by a green offer, and its delivery retires RECs equal to the metered
    ///     energy in the certificate beneficiary's name.
    struct JobTerms {
        uint256 offer_id;
        bytes32 model_id;
        uint256 max_price;
        uint256 min_collateral;
        uint256 deadline;
        uint256 challenge_window;
        bool green;
        address beneficiary;
    }

    /// @dev The energy a job used, signed (EIP-712) by the site's meter key.
    struct EnergyReceipt {
        uint256 job_id;
        bytes32 result_hash;
        uint64 started_at;
        uint64 finished_at;
        uint64 energy_mwh;
        uint64 meter_start;
        uint64 meter_end;
    }

    /// @dev A job as stored. The prompt and params live in `JobCreated`, the result hash in
    ///     `JobDelivered` (no on-chain rule reads them).
    struct Job {
        address requester;
        uint256 max_price;
        uint256 state; // a JobState flag value
        uint256 deadline;
        uint256 challenge_window;
        uint256 state_since;
        uint256 offer_id;
        uint256 energy_mwh;
        bool green;
        address beneficiary;
        bytes32 request_hash;
    }

    /// @dev A provider's standing offer; prices and collateral never change.
    struct Offer {
        address provider;
        uint256 site_id;
        bool active;
        bool green;
        bytes32 model_id;
        uint16 max_width;
        uint16 max_height;
        uint16 max_steps;
        uint256 base_price;
        uint256 price_per_kwh;
        uint256 collateral;
    }

    event StakeDeposited(address indexed provider, uint256 amount);
    event StakeWithdrawn(address indexed provider, uint256 amount);
    event DeliveryOperatorSet(address indexed provider, address indexed operator, bool approved);
    event OfferCreated(uint256 indexed offer_id, address indexed provider, uint256 indexed site_id, bool green, bytes32 model_id, uint16 max_width, uint16 max_height, uint16 max_steps, uint256 base_price, uint256 price_per_kwh, uint256 collateral);
    event OfferUpdated(uint256 indexed offer_id, uint16 max_width, uint16 max_height, uint16 max_steps);
    event OfferClosed(uint256 indexed offer_id);
    event JobCreated(uint256 indexed job_id, address indexed requester, uint256 indexed offer_id, bytes32 model_id, uint256 max_price, uint256 min_collateral, uint256 deadline, uint256 challenge_window, bool green, address beneficiary, string prompt, GenerationParams params);
    event JobAccepted(uint256 indexed job_id, address indexed provider, uint256 indexed offer_id, uint256 collateral);
    event JobDelivered(uint256 indexed job_id, address indexed provider, uint256 indexed site_id, bytes32 result_hash, uint256 energy_mwh, uint256 started_at, uint256 finished_at, uint256 meter_end);
    event JobSettled(uint256 indexed job_id, address indexed provider, address indexed requester, uint256 price, uint256 fee, uint256 refund);
    event JobCancelled(uint256 indexed job_id, uint256 refund);
    event JobExpired(uint256 indexed job_id, address indexed caller, uint256 refund, uint256 slashed_collateral);
    event JobDisputed(uint256 indexed job_id, uint256 bond);
    event JobResolved(uint256 indexed job_id, address indexed arbiter, bool provider_wins);
    event JobRefunded(uint256 indexed job_id, address indexed requester, uint256 refund, uint256 slashed_collateral);
    event FeesSwept(address indexed treasury, uint256 amount);
    event FeeChanged(uint256 fee_bps, address treasury);
    event DisputeBondChanged(uint256 dispute_bond);
    event RoleGranted(bytes32 indexed role, address indexed account, address indexed sender);
    event RoleRevoked(bytes32 indexed role, address indexed account, address indexed sender);
    event RoleAdminChanged(bytes32 indexed role, bytes32 indexed previousAdminRole, bytes32 indexed newAdminRole);
    event Paused(address account);
    event Unpaused(address account);

    function supportsInterface(bytes4 interface_id) external view returns (bool);
    function grantRole(bytes32 role, address account) external;
    function revokeRole(bytes32 role, address account) external;
    function renounceRole(bytes32 role, address account) external;
    function set_role_admin(bytes32 role, bytes32 admin_role) external;
    function DEFAULT_ADMIN_ROLE() external view returns (bytes32);
    function hasRole(bytes32 arg0, address arg1) external view returns (bool);
    function getRoleAdmin(bytes32 arg0) external view returns (bytes32);
    function paused() external view returns (bool);
    function eip712Domain() external view returns (bytes1, string memory, string memory, uint256, address, bytes32, uint256[] memory);
    function deposit_stake(uint256 amount) external;
    function withdraw_stake(uint256 amount) external;
    function set_delivery_operator(address operator, bool approved) external;
    function create_offer(uint256 site_id, bytes32 model_id, uint16 max_width, uint16 max_height, uint16 max_steps, uint256 base_price, uint256 price_per_kwh, uint256 collateral, bool green) external returns (uint256);
    function update_offer(uint256 offer_id, uint16 max_width, uint16 max_height, uint16 max_steps) external;
    function close_offer(uint256 offer_id) external;
    function create_job(JobTerms calldata terms, string calldata prompt, GenerationParams calldata params) external returns (uint256);
    function create_job_with_permit(JobTerms calldata terms, string calldata prompt, GenerationParams calldata params, uint256 permit_deadline, uint8 v, bytes32 r, bytes32 s) external returns (uint256);
    function accept(uint256 job_id, uint256 offer_id) external;
    function deliver(uint256 job_id, EnergyReceipt calldata receipt, bytes calldata signature) external;
    function settle(uint256 job_id) external;
    function cancel(uint256 job_id) external;
    function expire(uint256 job_id) external;
    function dispute(uint256 job_id) external;
    function resolve(uint256 job_id, bool provider_wins) external;
    function set_fee(uint256 fee_bps, address treasury) external;
    function sweep_fees() external;
    function set_dispute_bond(uint256 dispute_bond) external;
    function pause() external;
    function unpause() external;
    function job(uint256 job_id) external view returns (Job memory);
    function offer(uint256 offer_id) external view returns (Offer memory);
    function fee_bps() external view returns (uint256);
    function accrued_fees() external view returns (uint256);
    function open_terms(uint256 job_id) external view returns (bytes32, uint256);
    function stake_of(address provider) external view returns (uint256, uint256);
    function price_of(uint256 job_id) external view returns (uint256);
    function receipt_digest(EnergyReceipt calldata receipt) external view returns (bytes32);
    function ARBITER_ROLE() external view returns (bytes32);
    function PAUSER_ROLE() external view returns (bytes32);
    function RECEIPT_TYPEHASH() external view returns (bytes32);
    function MAX_PROMPT_BYTES() external view returns (uint256);
    function MIN_JOB_DURATION() external view returns (uint256);
    function MAX_JOB_DURATION() external view returns (uint256);
    function MIN_CHALLENGE_WINDOW() external view returns (uint256);
    function MAX_CHALLENGE_WINDOW() external view returns (uint256);
    function MIN_IMAGE_SIDE() external view returns (uint16);
    function MAX_IMAGE_SIDE() external view returns (uint16);
    function MAX_STEPS() external view returns (uint16);
    function MAX_GUIDANCE_X100() external view returns (uint16);
    function MAX_PRICE() external view returns (uint256);
    function MAX_COLLATERAL() external view returns (uint256);
    function MAX_BASE_PRICE() external view returns (uint256);
    function MAX_PRICE_PER_KWH() external view returns (uint256);
    function MAX_FEE_BPS() external view returns (uint256);
    function PAYMENT_TOKEN() external view returns (address);
    function SITE_REGISTRY() external view returns (address);
    function REC_TOKEN() external view returns (address);
    function job_count() external view returns (uint256);
    function offer_count() external view returns (uint256);
    function treasury() external view returns (address);
    function dispute_bond() external view returns (uint256);
    function bond_of(uint256 arg0) external view returns (uint256);
    function meter_register(uint256 arg0) external view returns (uint256);
    function delivery_operator(address arg0, address arg1) external view returns (bool);
}
