// SPDX-License-Identifier: AGPL-3.0-only
pragma solidity ^0.8.20;

import {IJobMarket} from "./IJobMarket.sol";

/// @title IGreenRouter
/// @notice Delivers a provider's green job through the JobMarket after buying the RECs it lacks
///     from the EnergyPool, in one transaction.
interface IGreenRouter {
    event ShortfallBought(uint256 indexed job_id, address indexed provider, uint256 rec_amount, uint256 akre_amount);

    function deliver(uint256 job_id, IJobMarket.EnergyReceipt calldata receipt, bytes calldata signature, uint256 max_akre, uint256 deadline) external returns (uint256);
    function MARKET() external view returns (address);
    function POOL() external view returns (address);
    function REC_TOKEN() external view returns (address);
    function AKRE_TOKEN() external view returns (address);
}
