"""The openstacksdk Connection of an OpenStack cloud: from credentials (password or
application credential) or from a clouds.yaml entry, with its auth_url checked and its
secrets registered for scrubbing before any request."""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any

from cloudmesh.compute.endpoints import check_endpoint
from cloudmesh.compute.errors import (NOT_SET_UP, ConfigError, CredentialError,
                                      register_secret)
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
                              "credentials.auth_url with username and password",
                              code=NOT_SET_UP)
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
        loader = config.OpenStackConfig(
            load_envvars=False,
            config_files=files["OS_CLIENT_CONFIG_FILE"] + list(config.CONFIG_FILES),
            secure_files=files["OS_CLIENT_SECURE_FILE"] + list(config.SECURE_FILES))
        # no clouds.yaml anywhere (and none named by OS_CLIENT_CONFIG_FILE): not set up yet
        if loader.config_filename is None and not files["OS_CLIENT_CONFIG_FILE"]:
            raise CredentialError(f"cloud '{self.cloud}': no clouds.yaml (for the entry "
                                  f"'{name}' of credentials.cloud)",
                                  "download it from your OpenStack dashboard (API Access) to "
                                  "~/.config/openstack/clouds.yaml", code=NOT_SET_UP)
        region = loader.get_one(cloud=name, **options)
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
