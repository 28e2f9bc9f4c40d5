# pragma version ~=0.4.3
"""
@title energy_receipts
@custom:contract-name energy_receipts
@license GNU Affero General Public License v3.0 only
@notice Verifies the EIP-712 EnergyReceipt a site's meter key signs for a
        delivery, in the order docs/SPEC.md gives: the receipt's job and
        result, its time window inside the job, its meter readings and
        their continuity with the site's register, the site's status, the
        physical bound of its GPU, and the signature. Each site's meter
        register then moves to the receipt's end, so no receipt can be
        replayed or its energy counted twice.
"""


# @dev The EnergyReceipt struct of the public interface.
from ..interfaces import IJobMarket

# @dev Meter keys and GPU power bounds come from the site registry.
from . import sites
uses: sites

# @dev The EIP-712 domain of energy receipts ("DeGEN JobMarket", "1").
from snekmate.utils import eip712_domain_separator
uses: eip712_domain_separator

# @dev Signature recovery (rejects malleable `s` values).
from snekmate.utils import ecdsa


# @dev EIP-712 type hash of the energy receipt signed by a site's meter key.
RECEIPT_TYPEHASH: public(constant(bytes32)) = keccak256(
    "EnergyReceipt(uint256 job_id,bytes32 result_hash,uint64 started_at,uint64 finished_at,uint64 energy_mwh,uint64 meter_start,uint64 meter_end)"
)


# @dev Per site: the last `meter_end` delivered (the cumulative register, mWh).
meter_register: public(HashMap[uint256, uint256])


@view
@external
def receipt_digest(receipt: IJobMarket.EnergyReceipt) -> bytes32:
    """
    @notice The EIP-712 digest a meter key signs for `receipt`.
    @param receipt The energy receipt.
    @return bytes32 The digest.
    """
    return self._receipt_digest(receipt)


@internal
def _redeem(
    receipt: IJobMarket.EnergyReceipt,
    signature: Bytes[65],
    job_id: uint256,
    accepted_at: uint256,
    site_id: uint256,
) -> uint256:
    """
    @dev Checks `receipt` for `job_id`, accepted at `accepted_at` on
         `site_id`, and advances the site's meter register to its end.
    @return uint256 The receipt's energy, mWh.
    """
    assert receipt.job_id == job_id, "market: receipt for another job"
    assert receipt.result_hash != empty(bytes32), "market: empty result"
    started: uint256 = convert(receipt.started_at, uint256)
    finished: uint256 = convert(receipt.finished_at, uint256)
    energy: uint256 = convert(receipt.energy_mwh, uint256)
    assert accepted_at <= started and started <= finished and finished <= block.timestamp, "market: window outside job"
    assert convert(receipt.meter_start, uint256) + energy == convert(receipt.meter_end, uint256), "market: meter mismatch"
    assert convert(receipt.meter_start, uint256) >= self.meter_register[site_id], "market: meter went backwards"

    meter: address = empty(address)
    max_gpu_watts: uint256 = 0
    site_active: bool = False
    meter, max_gpu_watts, site_active = staticcall sites.SITE_REGISTRY.meter_of(site_id)
    assert site_active, "market: site not active"
    # mWh * 3.6 J/mWh <= W * s  <=>  mWh * 3600 <= W * s * 1000
    assert energy * 3600 <= max_gpu_watts * (finished - started) * 1000, "market: energy above physical bound"
    # 65 bytes only: snekmate also takes EIP-2098's 64-byte form, which the SPEC does not.
    assert len(signature) == 65, "market: signature not 65 bytes"
    assert ecdsa._recover_sig(self._receipt_digest(receipt), signature) == meter, "market: bad meter signature"

    self.meter_register[site_id] = convert(receipt.meter_end, uint256)
    return energy


@view
@internal
def _receipt_digest(receipt: IJobMarket.EnergyReceipt) -> bytes32:
    return eip712_domain_separator._hash_typed_data_v4(
        keccak256(
            abi_encode(
                RECEIPT_TYPEHASH,
                receipt.job_id,
                receipt.result_hash,
                receipt.started_at,
                receipt.finished_at,
                receipt.energy_mwh,
                receipt.meter_start,
                receipt.meter_end,
            )
        )
    )
