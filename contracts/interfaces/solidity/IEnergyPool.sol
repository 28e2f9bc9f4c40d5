// SPDX-License-Identifier: AGPL-3.0-only
pragma solidity ^0.8.20;

/// @title IEnergyPool
/// @notice The EnergyPool's complete external interface: the LP token (ERC-20 with `permit`),
///     liquidity, quotes, the three swaps, decay and the time-weighted price. Every function
///     and event (a test holds this file equal to the compiled ABI).
interface IEnergyPool {
    event LiquidityAdded(address indexed provider, uint256 rec_amount, uint256 akre_amount, uint256 liquidity);
    event LiquidityRemoved(address indexed provider, uint256 rec_amount, uint256 akre_amount, uint256 liquidity);
    event Swap(address indexed sender, address indexed to, address indexed token_in, uint256 amount_in, uint256 amount_out);
    event Sync(uint256 reserve_rec, uint256 reserve_akre);
    event OwnershipTransferred(address indexed previous_owner, address indexed new_owner);
    event RoleMinterChanged(address indexed minter, bool status);
    event Transfer(address indexed sender, address indexed receiver, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

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
    function add_liquidity(uint256 rec_amount, uint256 akre_amount, uint256 min_liquidity, uint256 deadline) external returns (uint256);
    function remove_liquidity(uint256 liquidity, uint256 min_rec, uint256 min_akre, uint256 deadline) external returns (uint256, uint256);
    function swap_exact_in(address token_in, uint256 amount_in, uint256 min_out, address to, uint256 deadline) external returns (uint256);
    function swap_exact_out(address token_in, uint256 amount_out, uint256 max_in, address to, uint256 deadline) external returns (uint256);
    function swap_received(address token_in, uint256 min_out, address to, uint256 deadline) external returns (uint256);
    function skim(address to) external;
    function sync() external;
    function get_reserves() external view returns (uint256, uint256);
    function get_amount_out(uint256 amount_in, uint256 reserve_in, uint256 reserve_out) external pure returns (uint256);
    function get_amount_in(uint256 amount_out, uint256 reserve_in, uint256 reserve_out) external pure returns (uint256);
    function price_cumulative() external view returns (uint256, uint256);
    function observation(uint256 index) external view returns (uint256, uint256);
    function consult(uint256 window) external view returns (uint256);
    function oldest_observation() external view returns (uint256);
    function FEE_BPS() external view returns (uint256);
    function MINIMUM_LIQUIDITY() external view returns (uint256);
    function OBSERVATION_PERIOD() external view returns (uint256);
    function OBSERVATIONS() external view returns (uint256);
    function MIN_HALF_LIFE() external view returns (uint256);
    function MAX_HALF_LIFE() external view returns (uint256);
    function REC_TOKEN() external view returns (address);
    function AKRE_TOKEN() external view returns (address);
    function HALF_LIFE() external view returns (uint256);
    function DECAY_RATE_WAD() external view returns (uint256);
}
