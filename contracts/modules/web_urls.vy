# pragma version ~=0.4.3
"""
@title web_urls
@custom:contract-name web_urls
@license GNU Affero General Public License v3.0 only
@notice What the SiteRegistry and the OracleCommittee take as an endpoint:
        an http:// or https:// URL with a host after the scheme.
"""


@internal
@pure
def _is_web_url(url: String[128]) -> bool:
    """
    @dev Whether `url` starts with "http://" or "https://" and has a host after it.
    """
    if len(url) > 7 and slice(url, 0, 7) == "http://":
        return True
    if len(url) > 8:
        return slice(url, 0, 8) == "https://"
    return False
