"""Bounds the JobMarket and the SiteRegistry enforce, mirrored so the SDK can refuse bad input
before a transaction is sent. tests/contracts/test_stake_offers.py and test_registry.py check
them against the deployed contracts."""

MAX_PROMPT_BYTES = 2048
MIN_JOB_DURATION = 60
MAX_JOB_DURATION = 30 * 86400
MIN_CHALLENGE_WINDOW = 60
MAX_CHALLENGE_WINDOW = 7 * 86400
MIN_IMAGE_SIDE = 64
MAX_IMAGE_SIDE = 2048
MAX_STEPS = 500
MAX_GUIDANCE_X100 = 3000
MAX_PRICE = 2**96 - 1
MAX_COLLATERAL = 2**96 - 1
MAX_BASE_PRICE = 2**80 - 1
MAX_PRICE_PER_KWH = 2**80 - 1
MAX_FEE_BPS = 1000
MAX_WATTS = 100_000_000  # a site's PV peak and GPU draw (SiteRegistry)
MAX_BATTERY_WH = 1_000_000_000
MAX_ENDPOINT_BYTES = 128

UINT256_MAX = 2**256 - 1
UINT64_MAX = 2**64 - 1
UINT32_MAX = 2**32 - 1
MWH_PER_KWH = 1_000_000
