// SPDX-License-Identifier: AGPL-3.0-only
pragma solidity ^0.8.20;

/// @title IRetirementCertificate
/// @notice The soulbound ERC-721 (ERC-5192) certificate minted for every retirement of RECs:
///     who retired how much energy, for whom, when, why, and which DeGEN job it offsets (0:
///     none). Every function and event (a test holds this file equal to the compiled ABI).
interface IRetirementCertificate {
    /// @dev What a certificate records.
    struct Certificate {
        address beneficiary;
        uint256 amount_mwh;
        uint256 retired_at;
        address retired_by;
        uint256 job_id;
        string beneficiary_name;
        string reason;
    }

    event Transfer(address indexed sender, address indexed receiver, uint256 indexed token_id);
    event Approval(address indexed owner, address indexed approved, uint256 indexed token_id);
    event ApprovalForAll(address indexed owner, address indexed operator, bool approved);
    event Locked(uint256 tokenId);
    event MinterSet(address indexed minter);

    function set_minter(address minter) external;
    function mint(address beneficiary, uint256 amount_mwh, address retired_by, uint256 job_id, uint256 channel_id, bytes32 receipts_root, string calldata beneficiary_name, string calldata reason) external returns (uint256);
    function receipts_of(uint256 certificate_id) external view returns (uint256, bytes32);
    function certificate(uint256 certificate_id) external view returns (Certificate memory);
    function locked(uint256 certificate_id) external view returns (bool);
    function name() external view returns (string memory);
    function symbol() external view returns (string memory);
    function tokenURI(uint256 certificate_id) external view returns (string memory);
    function supportsInterface(bytes4 interface_id) external view returns (bool);
    function balanceOf(address _owner) external view returns (uint256);
    function ownerOf(uint256 _tokenId) external view returns (address);
    function getApproved(uint256 _tokenId) external view returns (address);
    function isApprovedForAll(address _owner, address _operator) external view returns (bool);
    function transferFrom(address _from, address _to, uint256 _tokenId) external payable;
    function safeTransferFrom(address _from, address _to, uint256 _tokenId) external payable;
    function safeTransferFrom(address _from, address _to, uint256 _tokenId, bytes calldata _data) external payable;
    function approve(address _approved, uint256 _tokenId) external payable;
    function setApprovalForAll(address _operator, bool _approved) external;
    function deployer() external view returns (address);
    function minter() external view returns (address);
    function totalSupply() external view returns (uint256);
}
