// SPDX-License-Identifier: AGPL-3.0-only
pragma solidity ^0.8.20;

/// @title IOracleCommittee
/// @notice The OracleCommittee's complete external interface: reports that `threshold` of `n`
///     bonded members signed (REC issuance, site decisions, dispute verdicts), equivocation
///     proofs, bonds, endpoints and the timelocked admin's changes. Every function and event (a
///     test holds this file equal to the compiled ABI). `ReportAccepted.kind` and
///     `Equivocated.kind`: 1 issuance, 2 site, 3 verdict.
interface IOracleCommittee {
    /// @dev One period of one site's generation, as RECToken.issue_batch takes it.
    struct IssuanceRequest {
        uint256 site_id;
        uint256 period_start;
        uint256 period_end;
        uint256 energy_mwh;
        bytes32 evidence_root;
    }

    /// @dev Site-periods to issue, as the members sign them (EIP-712 IssuanceReport).
    struct IssuanceReport {
        uint256 config;
        IssuanceRequest[] requests;
    }

    /// @dev A site decision: activate (or suspend) the site the registry holds with exactly this
    ///     meter key and these limits.
    struct SiteReport {
        uint256 config;
        uint256 site_id;
        uint256 nonce;
        bool active;
        address meter;
        uint256 pv_peak_watts;
        uint256 battery_wh;
        uint256 max_gpu_watts;
    }

    /// @dev A dispute's verdict.
    struct VerdictReport {
        uint256 config;
        uint256 job_id;
        bool provider_wins;
    }

    event ReportAccepted(uint8 indexed kind, uint256 indexed subject, bytes32 digest, uint256 config, address[] signers);
    event ConfigChanged(uint256 indexed config, address[] members, uint256 threshold);
    event EndpointSet(address indexed member, string endpoint);
    event BondPosted(address indexed member, address indexed payer, uint256 amount);
    event BondWithdrawn(address indexed member, uint256 amount);
    event Equivocated(address indexed member, address indexed prover, uint8 indexed kind, uint256 subject, uint256 to_prover, uint256 to_treasury);
    event MinBondSet(uint256 min_bond);
    event AdminTransferred(address indexed previous, address indexed admin);

    function eip712Domain() external view returns (bytes1, string memory, string memory, uint256, address, bytes32, uint256[] memory);
    function issue(IssuanceReport calldata report, bytes[] calldata signatures) external returns (uint256[] memory);
    function decide_site(SiteReport calldata report, bytes[] calldata signatures) external;
    function resolve(VerdictReport calldata report, bytes[] calldata signatures) external;
    function prove_issuance_equivocation(IssuanceReport calldata first, bytes calldata first_signature, uint256 first_index, IssuanceReport calldata second, bytes calldata second_signature, uint256 second_index) external;
    function prove_site_equivocation(SiteReport calldata first, bytes calldata first_signature, SiteReport calldata second, bytes calldata second_signature) external;
    function prove_verdict_equivocation(VerdictReport calldata first, bytes calldata first_signature, VerdictReport calldata second, bytes calldata second_signature) external;
    function post_bond(uint256 amount) external;
    function post_bond_for(address member, uint256 amount) external;
    function withdraw_bond(uint256 amount) external;
    function set_endpoint(string calldata endpoint) external;
    function add_member(address member, string calldata endpoint, uint256 threshold) external;
    function remove_member(address member, uint256 threshold) external;
    function set_threshold(uint256 threshold) external;
    function set_min_bond(uint256 min_bond) external;
    function transfer_admin(address admin) external;
    function members() external view returns (address[] memory);
    function is_member(address account) external view returns (bool);
    function issuance_digest(IssuanceReport calldata report) external view returns (bytes32);
    function site_digest(SiteReport calldata report) external view returns (bytes32);
    function verdict_digest(VerdictReport calldata report) external view returns (bytes32);
    function MAX_MEMBERS() external view returns (uint256);
    function MAX_BATCH() external view returns (uint256);
    function MAX_ENDPOINT_BYTES() external view returns (uint256);
    function PROVER_SHARE_BPS() external view returns (uint256);
    function ISSUANCE_REQUEST_TYPEHASH() external view returns (bytes32);
    function ISSUANCE_REPORT_TYPEHASH() external view returns (bytes32);
    function SITE_REPORT_TYPEHASH() external view returns (bytes32);
    function VERDICT_REPORT_TYPEHASH() external view returns (bytes32);
    function ISSUANCE() external view returns (uint8);
    function SITE() external view returns (uint8);
    function VERDICT() external view returns (uint8);
    function REC_TOKEN() external view returns (address);
    function SITE_REGISTRY() external view returns (address);
    function MARKET() external view returns (address);
    function BOND_TOKEN() external view returns (address);
    function TREASURY() external view returns (address);
    function BOND_LOCK() external view returns (uint256);
    function admin() external view returns (address);
    function threshold() external view returns (uint256);
    function config_count() external view returns (uint256);
    function min_bond() external view returns (uint256);
    function bond_of(address arg0) external view returns (uint256);
    function endpoint_of(address arg0) external view returns (string memory);
    function left_at(address arg0) external view returns (uint256);
    function site_nonce(uint256 arg0) external view returns (uint256);
}
