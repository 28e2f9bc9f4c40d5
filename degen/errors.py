"""The SDK's error hierarchy: each error is a DegenError and also the matching builtin."""


class DegenError(Exception):
    """Base of every error the SDK raises on purpose."""


class InvalidInput(DegenError, ValueError):
    """A value given to the SDK is outside what the contracts accept."""


class InvalidReceipt(InvalidInput):
    """An energy receipt is inconsistent or its signature does not match."""


class DeploymentNotFound(DegenError, FileNotFoundError):
    """No deployment file exists for the requested network."""
