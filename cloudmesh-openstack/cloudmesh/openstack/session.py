"""The openstacksdk Connection of an OpenStack cloud: from credentials (password or
application credential) or from a clouds.yaml entry, with its auth_url checked and its
secrets registered for scrubbing before any request; and the rules every HTTP request
of that connection obeys (``bound_requests``): cm.timeout per request, the page rules
per listing."""

from __future__ import annotations

import os
import re
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Iterable
from urllib.parse import urlsplit

from cloudmesh.compute.endpoints import check_endpoint
from cloudmesh.compute.errors import (CloudError, ConfigError, CredentialError,
                                      register_secret)
from cloudmesh.compute.kit import paging
from cloudmesh.compute.kit.deadline import bounded
from cloudmesh.compute.lazy import require

if TYPE_CHECKING:  # pragma: no cover
    from cloudmesh.openstack.compute import Provider

_DIST = "cloudmesh-openstack"


def connect(self: Provider):
    import logging

    connection = require("openstack.connection", _DIST, "openstacksdk")
    # keystoneauth and the SDK log warnings (failed discovery, ...) that Python would
    # print to stderr for want of a handler; cms reports the error itself, once
    for name in ("keystoneauth", "openstack"):
        logger = logging.getLogger(name)
        if not logger.handlers:
            logger.addHandler(logging.NullHandler())
    creds = self.credentials
    options = {"api_timeout": self.timeout, "connect_retries": 0,
               "status_code_retries": 0}
    if creds.get("region_name"):
        options["region_name"] = str(creds["region_name"])
    where = f"cloud '{self.cloud}'"
    if creds.get("cloud"):
        return connection.Connection(config=_clouds_yaml_region(self, options))
    if not creds.get("auth_url"):
        raise CredentialError(f"{where}: no OpenStack credentials",
                              "set credentials.cloud (an entry of clouds.yaml) or "
                              "credentials.auth_url with username and password")
    auth = {"auth_url": str(creds["auth_url"])}
    if creds.get("application_credential_id"):
        auth_type = "v3applicationcredential"
        auth.update(application_credential_id=str(creds["application_credential_id"]),
                    application_credential_secret=str(
                        creds.get("application_credential_secret") or ""))
    else:
        # an auth_url that names v3 is used as it is: no discovery document can send
        # the password elsewhere (and one request fewer)
        auth_type = ("v3password" if re.search(r"/v3/?$", auth["auth_url"])
                     else "password")
        missing = [k for k in ("username", "password", "project_name")
                   if not creds.get(k)]
        if missing:
            raise CredentialError(f"{where}: credentials.{missing[0]} is not set",
                                  "OpenStack needs username, password and project_name "
                                  "with auth_url (or an application credential)")
        auth.update(username=str(creds["username"]), password=str(creds["password"]),
                    project_name=str(creds["project_name"]),
                    user_domain_name=str(creds.get("user_domain_name") or "Default"),
                    project_domain_name=str(creds.get("project_domain_name")
                                            or "Default"))
    return connection.Connection(auth_type=auth_type, auth=auth, **options)


#: the page rules of the SDK listing under way in this context (see ``listing``)
_listing: ContextVar[PageRules | None] = ContextVar("cms_openstack_listing", default=None)


class PageRules:
    """The kit's page rules (``kit.paging``) applied to the GET requests of one SDK
    listing, which follows Nova's ``servers_links``, Glance's ``next`` and Neutron's
    ``*_links`` itself: a URL asked for twice is a loop, and more than ``max_pages``
    requests is an endless list; either stops the list before the request is sent. (The
    SDK ends a list at its first empty page, so a run of empty pages cannot occur.)"""

    def __init__(self, what: str, max_pages: int) -> None:
        self.what, self.max_pages = what, max_pages
        self.seen: set[str] = set()

    def check(self, url: str) -> None:
        if url in self.seen:
            raise CloudError(f"{self.what}: the cloud repeated page link "
                             f"{urlsplit(url).path}?{_short(urlsplit(url).query)}; stopped")
        if len(self.seen) >= self.max_pages:
            raise CloudError(f"{self.what}: the cloud named more than {self.max_pages} "
                             "pages; stopped",
                             "narrow the list with a filter, or report it to the cloud")
        self.seen.add(url)


def listing(items: Iterable, what: str) -> list:
    """Every item of an SDK listing, its page requests under ``PageRules`` (the page
    limit read now, so that a test can lower it)."""
    token = _listing.set(PageRules(what, paging.MAX_PAGES))
    try:
        return list(items)
    finally:
        _listing.reset(token)


def bound_requests(session: Any, seconds: float, cloud: str) -> None:
    """Every request of keystoneauth's requests.Session ends within ``seconds`` as a
    whole (connect and slow reads: a read timeout alone lets a server drip a byte a
    second), and a listing's GETs obey its ``PageRules``. Mounted in front of the
    adapters already there (the kit's origin guard), which keep doing the sending."""
    from requests.adapters import HTTPAdapter

    class BoundedAdapter(HTTPAdapter):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
            rules = _listing.get()
            if rules is not None and request.method == "GET":
                rules.check(request.url)
            def whole() -> Any:
                response = self.inner.send(request, *args, **kwargs)
                if not kwargs.get("stream"):
                    # the body too (requests reads it after send): a slow body is late
                    response.content  # noqa: B018 - read and kept by the response
                return response

            what = f"cloud '{cloud}' ({request.method} {urlsplit(request.url).path})"
            return bounded(whole, seconds, what)

        def close(self) -> None:
            self.inner.close()
            super().close()

    for prefix, adapter in list(session.adapters.items()):
        session.mount(prefix, BoundedAdapter(adapter))


def _short(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."


def _clouds_yaml_region(self: Provider, options: dict[str, Any]):
    """The clouds.yaml entry (OS_CLIENT_CONFIG_FILE honoured), its endpoint checked and
    its secrets registered for scrubbing before any request."""
    config = require("openstack.config.loader", _DIST, "openstacksdk")
    exceptions = require("openstack.exceptions", _DIST, "openstacksdk")
    name = str(self.credentials["cloud"])
    # OS_* variables would form an extra "envvars" cloud; cms reads only the files,
    # so the two file overrides are applied here
    files = {variable: [os.environ[variable]] if os.environ.get(variable) else []
             for variable in ("OS_CLIENT_CONFIG_FILE", "OS_CLIENT_SECURE_FILE")}
    try:
        region = config.OpenStackConfig(
            load_envvars=False,
            config_files=files["OS_CLIENT_CONFIG_FILE"] + list(config.CONFIG_FILES),
            secure_files=files["OS_CLIENT_SECURE_FILE"] + list(config.SECURE_FILES),
        ).get_one(cloud=name, **options)
    except exceptions.ConfigException as error:
        raise ConfigError(f"cloud '{self.cloud}': clouds.yaml: {error}",
                          "check credentials.cloud and your clouds.yaml "
                          "(OS_CLIENT_CONFIG_FILE, ./clouds.yaml, "
                          "~/.config/openstack/clouds.yaml)") from None
    auth = region.config.get("auth") or {}
    for key, value in auth.items():
        if "secret" in key or "password" in key or "token" in key:
            register_secret(value)
    if not auth.get("auth_url"):
        raise CredentialError(f"cloud '{self.cloud}': the clouds.yaml entry '{name}' "
                              "has no auth_url")
    check_endpoint(auth["auth_url"], f"cloud '{self.cloud}': clouds.yaml entry "
                                     f"'{name}' auth.auth_url")
    return region
