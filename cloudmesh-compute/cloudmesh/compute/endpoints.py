"""The one check every endpoint passes before cms sends it a request.

An endpoint may come from cloudmesh.yaml (``endpoint_url``, ``auth_url``, ``base_url``,
``api_endpoint``, ``service_endpoint``) or from a vendor's own file (``~/.aws/config``,
``clouds.yaml``, ``~/.oci/config``). Credentials must never travel in clear text to another
machine, so the rule is: https, or plain http only to a loopback literal (127.0.0.0/8,
``::1``) or exactly ``localhost``. The scheme is compared case-insensitively; user-info
(``user@host``), surrounding whitespace and control characters are refused, because each
has been used to make a URL look local while it is not.
"""

from __future__ import annotations

from cloudmesh.compute.errors import ConfigError

#: credentials keys that name an endpoint; the base provider checks each of them
ENDPOINT_KEYS = ("endpoint_url", "auth_url", "base_url", "api_endpoint", "service_endpoint")


def is_loopback_host(host: str) -> bool:
    """True for a loopback IP literal (127.0.0.0/8, ::1) or exactly 'localhost'."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_endpoint(url: object, where: str) -> str:
    """The endpoint ``url`` if cms may send credentials to it; else a ConfigError naming
    ``where`` it came from (e.g. "cloud 'x': credentials.endpoint_url")."""
    from urllib.parse import urlsplit

    def refuse(problem: str, hint: str = "use https://HOST, or http:// only to 127.0.0.1, "
                                         "::1 or localhost") -> ConfigError:
        return ConfigError(f"{where}: {problem}", hint)

    if not isinstance(url, str) or not url:
        raise refuse("the endpoint must be a URL such as https://HOST")
    if url != url.strip() or any(ord(c) < 0x21 or 0x7f <= ord(c) <= 0x9f for c in url):
        raise refuse("the endpoint has spaces or control characters",
                     "write the URL alone, without spaces")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as error:
        raise refuse(f"the endpoint is not a valid URL ({error})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not host:
        raise refuse(f"the endpoint {url} is not an http(s) URL with a host")
    if "@" in parts.netloc:
        raise refuse("the endpoint has user information (user@host) before its host",
                     "put credentials in their own keys, never in the URL")
    if scheme == "http" and not is_loopback_host(host):
        raise refuse(f"the endpoint {url} is plain http to a host that is not loopback")
    return url
