# pragma version ~=0.4.3
"""
@title sites
@custom:contract-name sites
@license GNU Affero General Public License v3.0 only
@notice JobMarket's link to the SiteRegistry it trusts: offers check a
        site's owner and status there, receipts its meter key and GPU
        power bound. Fixed at deployment.
"""


# @dev The registry's public interface.
from ..interfaces import ISiteRegistry


# @dev The site registry that holds meter keys and physical limits.
SITE_REGISTRY: public(immutable(ISiteRegistry))


@deploy
def __init__(site_registry_: ISiteRegistry):
    """
    @dev Binds the market to `site_registry_` for good.
    @param site_registry_ The site registry.
    """
    SITE_REGISTRY = site_registry_
