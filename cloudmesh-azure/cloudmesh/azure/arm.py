"""How cloudmesh-azure talks to Azure Resource Manager through azure-core, imported only
on use: the credential, the pipeline policies (origin guard with capped Retry-After,
bearer tokens over loopback http), long-running operations polled by the kit's
``poll_until``, and ARM's error bodies."""

from __future__ import annotations

import time
from typing import Any, Callable
from urllib.parse import urlsplit

from cloudmesh.compute.endpoints import is_loopback_host
from cloudmesh.compute.errors import ConfigError
from cloudmesh.compute.kit.origins import OriginGuard, retry_after_seconds
from cloudmesh.compute.kit.polling import poll_until
from cloudmesh.compute.lazy import require

DIST = "cloudmesh-azure"
ARM = "https://management.azure.com"
# sovereign clouds: ARM endpoint host -> login authority
_AUTHORITIES = {
    "management.chinacloudapi.cn": "login.chinacloudapi.cn",
    "management.usgovcloudapi.net": "login.microsoftonline.us",
}
#: headers that ask for a pause, and the factor to seconds
_RETRY_HEADERS = (("retry-after-ms", 0.001), ("x-ms-retry-after-ms", 0.001),
                  ("Retry-After", 1.0))


def is_loopback_http(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme.lower() == "http" and is_loopback_host(parts.hostname or "")


class StaticToken:
    """A TokenCredential for ``credentials.access_token`` (a token the user already has,
    e.g. from ``az account get-access-token``)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __repr__(self) -> str:
        return "StaticToken(<hidden>)"

    def get_token(self, *scopes: str, **kwargs: Any):
        from azure.core.credentials import AccessToken

        # ARM tokens live about an hour; the real expiry is inside the JWT, which we do
        # not parse: an expired one is answered 401 ExpiredAuthenticationToken
        return AccessToken(self._token, int(time.time()) + 3000)


def make_credential(cloud: str, creds: dict[str, Any], base_url: str, timeout: float):
    """The credential the config names: access_token, a service principal, or the
    Azure CLI's login."""
    if creds.get("access_token"):
        return StaticToken(str(creds["access_token"]))
    identity = require("azure.identity", DIST, "azure-identity")
    import logging

    # azure.identity logs each failed get_token as a warning, which Python would print
    # to stderr for want of a handler; cms reports the error itself, in one line
    logger = logging.getLogger("azure.identity")
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    if creds.get("client_secret") or creds.get("client_id"):
        missing = [k for k in ("tenant_id", "client_id", "client_secret") if not creds.get(k)]
        if missing:
            raise ConfigError(f"cloud '{cloud}': a service principal needs "
                              f"credentials.{missing[0]}",
                              "set tenant_id, client_id and client_secret, or use "
                              "access_token, or omit them all to use 'az login'")
        if is_loopback_http(base_url):
            # Microsoft's login endpoints are https only; a loopback ARM endpoint is a
            # test or an emulator, which takes a token directly
            raise ConfigError(f"cloud '{cloud}': a client secret cannot be used "
                              "with a plain-http base_url",
                              "use credentials.access_token for a local endpoint")
        authority = _AUTHORITIES.get(urlsplit(base_url).hostname or "",
                                     "login.microsoftonline.com")
        return identity.ClientSecretCredential(
            str(creds["tenant_id"]), str(creds["client_id"]), str(creds["client_secret"]),
            authority=authority)
    # no secret in the config: the Azure CLI's login, as 'az' itself uses it
    return identity.AzureCliCredential(
        tenant_id=str(creds["tenant_id"]) if creds.get("tenant_id") else "",
        process_timeout=int(max(10, timeout)))


def client_options(credential: Any, base_url: str, sovereign: bool, guard: OriginGuard,
                   retries: int, timeout: float, poll_interval: float) -> dict[str, Any]:
    """The keyword arguments of a management client: endpoint, scope, retries, timeouts
    and the origin guard on every attempt of every request."""
    scope = f"{base_url}/.default" if sovereign and not is_loopback_http(base_url) \
        else f"{ARM}/.default"
    options: dict[str, Any] = dict(
        base_url=base_url, credential_scopes=[scope], polling_interval=poll_interval,
        # the kit's retry backoff (0.2 s doubling, at most 4 s; Retry-After still wins)
        retry_total=retries, retry_backoff_factor=0.2, retry_backoff_max=4,
        connection_timeout=min(10.0, timeout), read_timeout=timeout,
        per_retry_policies=[guard_policy(guard)])
    if is_loopback_http(base_url):
        options["authentication_policy"] = _loopback_policy(credential, scope)
    return options


def pause_asked(headers: Any) -> float | None:
    """The pause an answer asks for in seconds (Retry-After or its -ms forms), capped at
    the kit's 60 s; None when it asks none (0, negative or unreadable)."""
    for name, factor in _RETRY_HEADERS:
        if name in headers:
            try:
                seconds = retry_after_seconds(str(float(headers[name]) * factor)
                                              if factor != 1.0 else headers[name])
            except ValueError:
                seconds = None
            return seconds or None
    return None


def guard_policy(guard: OriginGuard):
    """An azure-core policy run before every attempt of every request of the clients
    (first pages, nextLink pages, Azure-AsyncOperation and Location polls): a URL off the
    configured origins is refused before a byte is sent (issue 21), and an answer's
    Retry-After is capped at 60 s, so that the SDK's own retries never sleep a day."""
    policies = require("azure.core.pipeline.policies", DIST, "azure-core")

    class OriginGuardPolicy(policies.SansIOHTTPPolicy):
        def on_request(self, request):
            guard.check(request.http_request.url)

        def on_response(self, request, response):
            headers = response.http_response.headers
            seconds = pause_asked(headers)
            for name, factor in _RETRY_HEADERS:
                if name in headers:
                    if seconds is None:
                        del headers[name]
                    else:
                        headers[name] = str(int(seconds / factor))

    return OriginGuardPolicy()


def _loopback_policy(credential, scope: str):
    """ARM's bearer-token policy, allowed over plain http only for loopback URLs (a
    test's fake or an emulator): azure-core refuses bearer tokens without TLS."""
    policies = require("azure.mgmt.core.policies", DIST, "azure-mgmt-core")

    class LoopbackBearerPolicy(policies.ARMChallengeAuthenticationPolicy):
        def on_request(self, request):
            if is_loopback_http(request.http_request.url):
                request.context["enforce_https"] = False
            return super().on_request(request)

    return LoopbackBearerPolicy(credential, scope)


def bounded_polling(*, what: str, timeout: float, interval: float,
                    clock: Callable[[], float], sleep: Callable[[float], None]):
    """A polling method for one long-running operation (``polling=`` of a ``begin_*``
    call): ARM's algorithms (Azure-AsyncOperation, Location, body) with the waiting done
    by the kit's poll_until: Retry-After honoured up to 60 s, ``interval`` doubling when
    ARM asks no pause, and a WaitTimeout after ``timeout`` seconds, so the SDK's poller
    thread ends too."""
    arm_polling = require("azure.mgmt.core.polling.arm_polling", DIST, "azure-mgmt-core")
    base = require("azure.core.polling.base_polling", DIST, "azure-core")

    class BoundedARMPolling(arm_polling.ARMPolling):
        def _poll(self) -> None:
            def fetch() -> str:
                self.update_status()
                return self.status()

            if not self.finished():
                poll_until(fetch, lambda _: self.finished(), timeout=timeout, what=what,
                           interval=interval, max_interval=max(interval, 10.0),
                           retry_after=lambda _: pause_asked(
                               self._pipeline_response.http_response.headers),
                           clock=clock, sleep=sleep)
            if str(self.status()).lower() in ("failed", "canceled", "cancelled"):
                raise base.OperationFailed("Operation failed or canceled")
            final_url = self._operation.get_final_get_url(self._pipeline_response)
            if final_url:
                self._pipeline_response = self.request_status(final_url)
                code = self._pipeline_response.http_response.status_code
                if code not in (200, 201, 202, 204):
                    raise base.BadStatus(f"Invalid return status {code} for GET operation")

    return BoundedARMPolling(interval)


def arm_error(error: Exception) -> tuple[str, str]:
    """ARM's error code and message from an HttpResponseError."""
    odata = getattr(error, "error", None)
    code = getattr(odata, "code", None)
    message = getattr(odata, "message", None)
    if not code:
        response = getattr(error, "response", None)
        try:
            body = response.json() if response is not None else {}
            inner = body.get("error") or {}
            code, message = inner.get("code"), inner.get("message")
        except Exception:  # not JSON: keep the SDK's text
            pass
    if not code:
        code = str(getattr(error, "status_code", None) or "Error")
        message = message or (getattr(error, "reason", None) or first_line(error))
    return str(code), " ".join(str(message or "").split())


def first_line(error: Exception) -> str:
    text = str(getattr(error, "message", None) or error).strip()
    return text.splitlines()[0] if text else type(error).__name__
