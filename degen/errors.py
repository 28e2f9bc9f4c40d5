"""The SDK's error hierarchy: each error is a DegenError and also the matching builtin."""


class DegenError(Exception):
    """Base of every error the SDK raises on purpose."""


class InvalidInput(DegenError, ValueError):
    """A value given to the SDK is outside what the contracts accept."""


class InvalidSignature(InvalidInput):
    """A signature is malformed, non-canonical (not what the contracts accept) or recovers no key."""


class InvalidReceipt(InvalidInput):
    """An energy receipt is inconsistent or its signature does not match."""


class DeploymentNotFound(DegenError, FileNotFoundError):
    """No deployment file exists for the requested network."""


def describe(errors: list[dict], whole: str = "value") -> str:
    """Pydantic's (or FastAPI's) validation errors as one sentence: `field: problem; ...`. The
    input is never echoed: it may be huge, binary or not serialisable (NaN, lone surrogates)."""
    return "; ".join(f"{'.'.join(map(str, error['loc'])) or whole}: {error['msg']}" for error in errors)
