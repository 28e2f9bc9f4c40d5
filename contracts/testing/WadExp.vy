# pragma version ~=0.4.3
"""
@title WadExp
@custom:contract-name WadExp
@license GNU Affero General Public License v3.0 only
@notice TEST ONLY: exposes snekmate's `math._wad_exp`, the EnergyPool's
        decay factor, so the Python reference model can be held equal to it.
@custom:kill Test fixture; it holds nothing.
"""

from snekmate.utils import math


@pure
@external
def wad_exp(x: int256) -> int256:
    return math._wad_exp(x)
