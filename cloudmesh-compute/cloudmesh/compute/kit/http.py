"""One mapping from an HTTP status (and the cloud's error code) to a CmsError.

Providers decide by ``error.status`` and ``error.code``, never by matching the message.
"""

from __future__ import annotations

from cloudmesh.compute.errors import CloudError, CmsError, CredentialError, NotFound

#: statuses worth trying again: the request timed out, was throttled, or the cloud failed
_RETRYABLE = {408, 429}


def classify_http(status: int | None, code: str | None, message: str, *, cloud: str = "",
                  hint: str | None = None) -> CmsError:
    """The CmsError for a cloud's answer: 401/403 CredentialError, 404 NotFound, 408, 429
    and 5xx a retryable CloudError, anything else a CloudError. ``status`` and ``code``
    are kept on the error; the message is the cloud's own (the output path scrubs it)."""
    text = f"cloud '{cloud}': {message}" if cloud else message
    kwargs = {"status": status, "code": code}
    if status in (401, 403):
        return CredentialError(text, hint or "check the credentials with 'cms check'", **kwargs)
    if status == 404:
        return NotFound(text, hint, **kwargs)
    retryable = status is not None and (status in _RETRYABLE or 500 <= status <= 599)
    return CloudError(text, hint, retryable, **kwargs)
