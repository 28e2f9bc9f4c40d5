"""DeGEN shared SDK: typed models, EIP-712 receipts, deployments and the `degen` CLI.

Importing this package does no I/O and opens no network connection; contract access
goes through Ape and is only made inside functions that are handed a connected provider.
"""

__version__ = "0.1.0"
