# pragma version ~=0.4.3
"""
@title RetirementCertificate
@custom:contract-name RetirementCertificate
@license GNU Affero General Public License v3.0 only
@notice Soulbound ERC-721 certificates (ERC-5192: `locked` is always true)
        minted by RECToken for every retirement of Renewable Energy
        Certificates. Each records the beneficiary (its owner), the energy
        retired in mWh, when, by whom, why, and the DeGEN job it offsets,
        or the channel and the root of the job receipts it offsets.
        Every transfer and approval reverts; `tokenURI` renders the record
        as base64 JSON on chain.
@custom:kill Nothing to stop: certificates cannot move, and only the minter
             (RECToken) can create them. Pausing RECToken's retirements stops
             new certificates.
"""


# @dev The ERC-165 and ERC-721 interfaces.
from ethereum.ercs import IERC165
implements: IERC165
from ethereum.ercs import IERC721
implements: IERC721

# @dev What integrators and RECToken see.
from .interfaces import IRetirementCertificate
implements: IRetirementCertificate

# @dev Base64 for the on-chain `tokenURI`.
from snekmate.utils import base64


# @dev ERC-165 ids: ERC-165, ERC-721, ERC-721 Metadata, ERC-5192.
_SUPPORTED_INTERFACES: constant(bytes4[4]) = [0x01FFC9A7, 0x80AC58CD, 0x5B5E139F, 0xB45A3C0E]
# @dev Bit layout of a certificate's words.
_AMOUNT_SHIFT: constant(uint256) = 160
_TIME_SHIFT: constant(uint256) = 224
_JOB_SHIFT: constant(uint256) = 160
# @dev Longest JSON a certificate renders to (bounded by its string fields).
_JSON_BOUND: constant(uint256) = 1_024
_URI_BOUND: constant(uint256) = 1_368
_HEX: constant(String[16]) = "0123456789abcdef"


# @dev The account that deployed this contract and may name the minter once.
deployer: public(immutable(address))

# @dev The only account that mints (RECToken).
minter: public(address)
# @dev Number of certificates; ids run from 1.
totalSupply: public(uint256)
# @dev Certificates per beneficiary.
_balances: HashMap[address, uint256]
# @dev Per certificate: beneficiary (160 bits) | amount mWh (64) | retired at (32).
_core: HashMap[uint256, uint256]
# @dev Per certificate: retired by (160 bits) | job id (96).
_origin: HashMap[uint256, uint256]
# @dev Per certificate, only when given.
_beneficiary_name: HashMap[uint256, String[64]]
_reason: HashMap[uint256, String[128]]
# @dev Per certificate of a channel's jobs: the channel and the root of the jobs' receipts.
_channel: HashMap[uint256, uint256]
_receipts_root: HashMap[uint256, bytes32]


# @dev ERC-721 events (Approval and ApprovalForAll never fire: nothing can be approved).
event Transfer:
    sender: indexed(address)
    receiver: indexed(address)
    token_id: indexed(uint256)

event Approval:
    owner: indexed(address)
    approved: indexed(address)
    token_id: indexed(uint256)

event ApprovalForAll:
    owner: indexed(address)
    operator: indexed(address)
    approved: bool

# @dev ERC-5192: the certificate is locked for good.
event Locked:
    tokenId: uint256

# @dev The deployer named the minter.
event MinterSet:
    minter: indexed(address)


@deploy
def __init__():
    deployer = msg.sender


@external
def set_minter(minter: address):
    """
    @notice Names the only account that mints (RECToken). Deployer only, once.
    @param minter The minter.
    """
    assert msg.sender == deployer, "certificate: not deployer"
    assert self.minter == empty(address), "certificate: minter already set"
    assert minter != empty(address), "certificate: minter is zero"
    self.minter = minter
    log MinterSet(minter=minter)


@external
def mint(
    beneficiary: address,
    amount_mwh: uint256,
    retired_by: address,
    job_id: uint256,
    channel_id: uint256,
    receipts_root: bytes32,
    beneficiary_name: String[64],
    reason: String[128],
) -> uint256:
    """
    @notice Mints the certificate of one retirement to its beneficiary. Minter only.
    @return uint256 The certificate id.
    """
    assert msg.sender == self.minter, "certificate: not minter"
    assert beneficiary != empty(address), "certificate: beneficiary is zero"
    assert amount_mwh < 2**64 and job_id < 2**96 and channel_id < 2**64, "certificate: value too large"
    certificate_id: uint256 = self.totalSupply + 1
    self.totalSupply = certificate_id
    self._balances[beneficiary] += 1
    self._core[certificate_id] = (
        convert(beneficiary, uint256) | (amount_mwh << _AMOUNT_SHIFT) | (block.timestamp << _TIME_SHIFT)
    )
    self._origin[certificate_id] = convert(retired_by, uint256) | (job_id << _JOB_SHIFT)
    if channel_id != 0:
        self._channel[certificate_id] = channel_id
        self._receipts_root[certificate_id] = receipts_root
    if len(beneficiary_name) > 0:
        self._check_text(convert(beneficiary_name, Bytes[128]))
        self._beneficiary_name[certificate_id] = beneficiary_name
    if len(reason) > 0:
        self._check_text(convert(reason, Bytes[128]))
        self._reason[certificate_id] = reason
    log Transfer(sender=empty(address), receiver=beneficiary, token_id=certificate_id)
    log Locked(tokenId=certificate_id)
    return certificate_id


@view
@external
def certificate(certificate_id: uint256) -> IRetirementCertificate.Certificate:
    """
    @notice Everything a certificate records.
    @param certificate_id The certificate.
    @return Certificate The record.
    """
    return self._certificate(certificate_id)


@view
@external
def receipts_of(certificate_id: uint256) -> (uint256, bytes32):
    """
    @notice For a certificate of a channel's jobs (JobChannels): the channel
            and the root of the energy receipts of the jobs it offsets; (0,
            0x00…) for any other.
    @param certificate_id The certificate.
    @return (uint256, bytes32) The channel id and the receipts' root.
    """
    self._owner_of(certificate_id)
    return self._channel[certificate_id], self._receipts_root[certificate_id]


@view
@external
def locked(certificate_id: uint256) -> bool:
    """
    @notice ERC-5192: always true, certificates never move.
    @param certificate_id The certificate.
    @return bool True.
    """
    self._owner_of(certificate_id)
    return True


@view
@external
def name() -> String[32]:
    return "DeGEN REC Retirement"


@view
@external
def symbol() -> String[8]:
    return "DGRET"


@view
@external
def tokenURI(certificate_id: uint256) -> String[_URI_BOUND + 29]:
    """
    @notice The certificate as `data:application/json;base64,...`.
    @param certificate_id The certificate.
    @return String The data URI.
    """
    record: IRetirementCertificate.Certificate = self._certificate(certificate_id)
    json: String[_JSON_BOUND] = concat(
        '{"name":"DeGEN retirement #', uint2str(certificate_id),
        '","description":"Retirement of renewable energy certificates","attributes":[',
        '{"trait_type":"beneficiary","value":"', self._hex_address(record.beneficiary),
        '"},{"trait_type":"beneficiary_name","value":"', record.beneficiary_name,
        '"},{"trait_type":"amount_mwh","value":', uint2str(record.amount_mwh),
        '},{"trait_type":"retired_at","value":', uint2str(record.retired_at),
        '},{"trait_type":"retired_by","value":"', self._hex_address(record.retired_by),
        '"},{"trait_type":"reason","value":"', record.reason,
        '"},', self._offsets(certificate_id, record.job_id), "]}",
    )
    chunks: DynArray[String[4], _URI_BOUND] = base64._encode(convert(json, Bytes[_JSON_BOUND]), False)
    encoded: String[_URI_BOUND] = ""
    for chunk: String[4] in chunks:
        encoded = abi_decode(abi_encode(concat(encoded, chunk)), String[_URI_BOUND])
    return concat("data:application/json;base64,", encoded)


@view
@external
def supportsInterface(interface_id: bytes4) -> bool:
    return interface_id in _SUPPORTED_INTERFACES


@view
@external
def balanceOf(_owner: address) -> uint256:
    assert _owner != empty(address), "certificate: zero address"
    return self._balances[_owner]


@view
@external
def ownerOf(_tokenId: uint256) -> address:
    return self._owner_of(_tokenId)


@view
@external
def getApproved(_tokenId: uint256) -> address:
    self._owner_of(_tokenId)
    return empty(address)


@view
@external
def isApprovedForAll(_owner: address, _operator: address) -> bool:
    return False


@payable
@external
def transferFrom(_from: address, _to: address, _tokenId: uint256):
    raise "certificate: soulbound"


@payable
@external
def safeTransferFrom(_from: address, _to: address, _tokenId: uint256, _data: Bytes[1024] = b""):
    raise "certificate: soulbound"


@payable
@external
def approve(_approved: address, _tokenId: uint256):
    raise "certificate: soulbound"


@external
def setApprovalForAll(_operator: address, _approved: bool):
    raise "certificate: soulbound"


@view
@internal
def _owner_of(certificate_id: uint256) -> address:
    owner: address = convert(convert(self._core[certificate_id] % 2**160, uint160), address)
    assert owner != empty(address), "certificate: unknown id"
    return owner


@view
@internal
def _certificate(certificate_id: uint256) -> IRetirementCertificate.Certificate:
    core: uint256 = self._core[certificate_id]
    origin: uint256 = self._origin[certificate_id]
    return IRetirementCertificate.Certificate(
        beneficiary=self._owner_of(certificate_id),
        amount_mwh=(core >> _AMOUNT_SHIFT) % 2**64,
        retired_at=core >> _TIME_SHIFT,
        retired_by=convert(convert(origin % 2**160, uint160), address),
        job_id=origin >> _JOB_SHIFT,
        beneficiary_name=self._beneficiary_name[certificate_id],
        reason=self._reason[certificate_id],
    )


@pure
@internal
def _check_text(text: Bytes[128]):
    """
    @dev Printable ASCII only (0x20..0x7E) without quotes and backslashes:
         what `tokenURI` can embed in JSON as it is.
    """
    for i: uint256 in range(128):
        if i >= len(text):
            break
        char: uint256 = convert(slice(text, i, 1), uint256)
        assert char >= 32 and char <= 126 and char != 34 and char != 92, "certificate: bad character"


@view
@internal
def _offsets(certificate_id: uint256, job_id: uint256) -> String[164]:
    """
    @dev What the retirement offsets, as the last JSON traits: the channel and
         the root of its jobs' receipts, or the job id (0 for none).
    """
    channel_id: uint256 = self._channel[certificate_id]
    if channel_id == 0:
        return concat('{"trait_type":"job_id","value":', uint2str(job_id), "}")
    return concat(
        '{"trait_type":"channel_id","value":', uint2str(convert(channel_id, uint64)),
        '},{"trait_type":"receipts_root","value":"0x', self._hex(convert(self._receipts_root[certificate_id], uint256), 64),
        '"}',
    )


@pure
@internal
def _hex_address(account: address) -> String[42]:
    """
    @dev `account` as 0x-prefixed lower-case hex.
    """
    return concat("0x", slice(self._hex(convert(account, uint256), 40), 0, 40))


@pure
@internal
def _hex(number: uint256, length: uint256) -> String[64]:
    """
    @dev The low `length` hex digits of `number` (at most 64), lower case, without 0x.
    """
    digits: String[64] = ""
    for i: uint256 in range(64):
        if i >= length:
            break
        nibble: uint256 = (number >> (4 * (length - 1 - i))) % 16
        digits = abi_decode(abi_encode(concat(digits, slice(_HEX, nibble, 1))), String[64])
    return digits
