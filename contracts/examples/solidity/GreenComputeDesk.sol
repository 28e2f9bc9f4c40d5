// SPDX-License-Identifier: AGPL-3.0-only
pragma solidity ^0.8.20;

import {IAkreToken} from "../../interfaces/solidity/IAkreToken.sol";
import {IEnergyPool} from "../../interfaces/solidity/IEnergyPool.sol";
import {IJobMarket, JobStates} from "../../interfaces/solidity/IJobMarket.sol";
import {IRECToken} from "../../interfaces/solidity/IRECToken.sol";
import {ISiteRegistry, SiteStatuses} from "../../interfaces/solidity/ISiteRegistry.sol";

/// @title GreenComputeDesk (Solidity integrator example)
/// @notice A DAO's desk for green AI images, written against DeGEN's Solidity interfaces and
///     docs/SPEC.md only. The DAO funds it with AKRE (an approval or an EIP-2612 permit); its
///     members post green jobs, directed at an offer or open to any provider of a model, paid
///     from that budget, and each member, not the desk, receives the soulbound certificate of
///     their job. It also offsets energy: it buys RECs from the EnergyPool only within a band
///     above the pool's time-weighted price, and retires them for a beneficiary. Refunds of
///     settled, cancelled and expired jobs come back to the desk's budget.
/// @dev JobState and SiteStatus are Vyper flags: one bit per state (JobStates, SiteStatuses).
contract GreenComputeDesk {
    uint256 private constant BPS = 10_000;
    uint256 private constant MWH_PER_REC = 1e6;
    /// @dev Challenge window asked for every job: members check their image within it.
    uint256 public constant CHALLENGE_WINDOW = 3600;

    IJobMarket public immutable market;
    ISiteRegistry public immutable registry;
    IEnergyPool public immutable pool;
    IAkreToken public immutable akre;
    IRECToken public immutable rec;
    /// @dev Who adds and removes members.
    address public immutable dao;
    /// @dev The TWAP window (seconds) and the largest accepted premium above it (bps).
    uint256 public immutable twapWindow;
    uint256 public immutable maxPremiumBps;

    mapping(address => bool) public isMember;
    /// @dev The member each job was posted for.
    mapping(uint256 => address) public memberOf;

    uint256 private locked = 1;

    event MemberSet(address indexed member, bool allowed);
    event Funded(address indexed from, uint256 amount);
    event JobPosted(uint256 indexed jobId, address indexed member, uint256 maxPrice);

    error NotDao();
    error NotMember();
    error Reentrant();
    error BadParameters();
    error CostsMoreThan(uint256 cost, uint256 maxAkre);
    error SpotAboveTwapBand(uint256 cost, uint256 fair);

    modifier onlyMember() {
        if (!isMember[msg.sender]) revert NotMember();
        _;
    }

    modifier onlyMemberOf(uint256 jobId) {
        if (memberOf[jobId] != msg.sender) revert NotMember();
        _;
    }

    modifier nonReentrant() {
        if (locked != 1) revert Reentrant();
        locked = 2;
        _;
        locked = 1;
    }

    constructor(IJobMarket market_, IEnergyPool pool_, uint256 twapWindow_, uint256 maxPremiumBps_) {
        if (twapWindow_ == 0 || maxPremiumBps_ > BPS) revert BadParameters();
        market = market_;
        registry = ISiteRegistry(market_.SITE_REGISTRY());
        pool = pool_;
        akre = IAkreToken(market_.PAYMENT_TOKEN());
        rec = IRECToken(pool_.REC_TOKEN());
        if (pool_.AKRE_TOKEN() != address(akre) || market_.REC_TOKEN() != address(rec)) revert BadParameters();
        dao = msg.sender;
        twapWindow = twapWindow_;
        maxPremiumBps = maxPremiumBps_;
        akre.approve(address(market_), type(uint256).max); // the market pulls each job's escrow
    }

    function setMember(address member, bool allowed) external {
        if (msg.sender != dao) revert NotDao();
        isMember[member] = allowed;
        emit MemberSet(member, allowed);
    }

    /// @notice Adds `amount` AKRE to the budget (approved to this desk beforehand).
    function fund(uint256 amount) external {
        akre.transferFrom(msg.sender, address(this), amount);
        emit Funded(msg.sender, amount);
    }

    /// @notice Adds `amount` AKRE to the budget with the funder's EIP-2612 permit for this
    ///     desk: no approval transaction. A permit someone else already used is ignored as long
    ///     as the allowance it granted is there (the transfer below needs it).
    function fundWithPermit(address from, uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s) external {
        try akre.permit(from, address(this), amount, deadline, v, r, s) {} catch {}
        akre.transferFrom(from, address(this), amount);
        emit Funded(from, amount);
    }

    /// @notice Posts a green job at `offerId` for the caller, paid from the budget; the caller
    ///     receives the job's retirement certificate.
    function postGreenJob(
        uint256 offerId,
        uint256 maxPrice,
        uint256 deadline,
        string calldata prompt,
        IJobMarket.GenerationParams calldata params
    ) external onlyMember nonReentrant returns (uint256 jobId) {
        jobId = _post(offerId, bytes32(0), 0, maxPrice, deadline, prompt, params);
    }

    /// @notice Posts an open green job for the caller: any green offer of `modelId` with at
    ///     least `minCollateral` may take it.
    function postOpenGreenJob(
        bytes32 modelId,
        uint256 minCollateral,
        uint256 maxPrice,
        uint256 deadline,
        string calldata prompt,
        IJobMarket.GenerationParams calldata params
    ) external onlyMember nonReentrant returns (uint256 jobId) {
        jobId = _post(0, modelId, minCollateral, maxPrice, deadline, prompt, params);
    }

    /// @notice Settles a delivered job of the caller's at once (the desk is its requester);
    ///     the refund returns to the budget.
    function settle(uint256 jobId) external onlyMemberOf(jobId) nonReentrant {
        market.settle(jobId);
    }

    /// @notice Cancels an open job of the caller's; the escrow returns to the budget.
    function cancel(uint256 jobId) external onlyMemberOf(jobId) nonReentrant {
        market.cancel(jobId);
    }

    /// @notice Buys `amountMwh` of RECs from the pool with the budget and retires them for
    ///     `beneficiary`, unless they cost more than `maxAkre` or more than `maxPremiumBps` above
    ///     the pool's time-weighted price (a pushed spot price makes it revert).
    function offset(
        uint256 amountMwh,
        address beneficiary,
        string calldata beneficiaryName,
        string calldata reason,
        uint256 maxAkre,
        uint256 deadline
    ) external onlyMember nonReentrant returns (uint256 certificateId) {
        uint256 received = _buyRecs(amountMwh, maxAkre, deadline);
        certificateId = rec.retire(amountMwh, beneficiary, beneficiaryName, reason);
        if (received > amountMwh) rec.transfer(msg.sender, received - amountMwh);
    }

    /// @notice Where a job is, decoded from the market's flag value.
    function jobPhase(uint256 jobId) external view returns (string memory) {
        uint256 state = market.job(jobId).state;
        if (state == JobStates.OPEN) return "open";
        if (state == JobStates.ACCEPTED) return "generating";
        if (state == JobStates.DELIVERED) return "delivered";
        if (state == JobStates.SETTLED) return "settled";
        if (state == JobStates.DISPUTED) return "disputed";
        if (state == JobStates.CANCELLED || state == JobStates.EXPIRED || state == JobStates.REFUNDED) {
            return "refunded";
        }
        return "unknown";
    }

    /// @notice Whether a site may serve jobs now (its registry status is ACTIVE).
    function siteIsActive(uint256 siteId) external view returns (bool) {
        return registry.site(siteId).status == SiteStatuses.ACTIVE;
    }

    /// @dev Pays the pool from the budget for at least `amountMwh` RECs, within the bounds.
    function _buyRecs(uint256 amountMwh, uint256 maxAkre, uint256 deadline) private returns (uint256) {
        (uint256 recReserve, uint256 akreReserve) = pool.get_reserves();
        uint256 cost = pool.get_amount_in(amountMwh, akreReserve, recReserve);
        if (cost > maxAkre) revert CostsMoreThan(cost, maxAkre);
        uint256 fair = amountMwh * pool.consult(twapWindow) / MWH_PER_REC;
        if (cost * BPS > fair * (BPS + maxPremiumBps)) revert SpotAboveTwapBand(cost, fair);
        akre.transfer(address(pool), cost);
        return pool.swap_received(address(akre), amountMwh, address(this), deadline);
    }

    function _post(
        uint256 offerId,
        bytes32 modelId,
        uint256 minCollateral,
        uint256 maxPrice,
        uint256 deadline,
        string calldata prompt,
        IJobMarket.GenerationParams calldata params
    ) private returns (uint256 jobId) {
        IJobMarket.JobTerms memory terms = IJobMarket.JobTerms({
            offer_id: offerId,
            model_id: modelId,
            max_price: maxPrice,
            min_collateral: minCollateral,
            deadline: deadline,
            challenge_window: CHALLENGE_WINDOW,
            green: true,
            beneficiary: msg.sender
        });
        jobId = market.create_job(terms, prompt, params);
        memberOf[jobId] = msg.sender;
        emit JobPosted(jobId, msg.sender, maxPrice);
    }
}
