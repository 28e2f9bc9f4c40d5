# pragma version ~=0.4.3
"""
@title green_retirement
@custom:contract-name green_retirement
@license GNU Affero General Public License v3.0 only
@notice A green job's delivery retires RECs equal to its metered energy
        from the provider, through RECToken's `retire_for_job` (JobMarket
        holds its MARKET_ROLE), in the name of the job's certificate
        beneficiary: the requester, or whoever the requester named.
"""


# @dev The REC token's public interface.
from ..interfaces import IRECToken


# @dev The REC token whose certificates back green jobs.
REC_TOKEN: public(immutable(IRECToken))


@deploy
def __init__(rec_token_: IRECToken):
    """
    @param rec_token_ The REC token green jobs retire.
    """
    REC_TOKEN = rec_token_


@internal
def _retire_for_job(job_id: uint256, provider: address, energy_mwh: uint256, beneficiary: address):
    """
    @dev Retires `energy_mwh` of the provider's RECs for `job_id` in the name
         of `beneficiary`, with the job id on the certificate.
    """
    assert staticcall REC_TOKEN.balanceOf(provider) >= energy_mwh, "market: provider lacks RECs"
    assert staticcall REC_TOKEN.allowance(provider, self) >= energy_mwh, "market: RECs not approved"
    extcall REC_TOKEN.retire_for_job(provider, energy_mwh, beneficiary, job_id)
