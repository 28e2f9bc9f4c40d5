"""DeGEN shared SDK: typed models, EIP-712 receipts, deployments and the `degen` CLI.

Importing this package does no I/O and opens no network connection; contract access
goes through Ape and is only made inside functions that are handed a connected provider.
"""

import warnings

__version__ = "0.1.0"

# ape-vyper 0.8's config model names a type it defines later, and pydantic-settings warns about
# it on stderr each time Ape reads the project's config (every command and script). It is
# harmless (the field's default is used) and only noise to a user: silenced here, once for all.
warnings.filterwarnings("ignore", message="Field 'import_remapping' has an incomplete definition")
