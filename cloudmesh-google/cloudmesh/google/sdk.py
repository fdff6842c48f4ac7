"""Google's libraries as cloudmesh-google uses them, imported only on use: one
compute_v1 service module at a time (without the package's ``__init__``), and the
credentials (an access token, a service-account file, or Application Default
Credentials)."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
from typing import Any

from cloudmesh.compute.errors import NOT_SET_UP, ConfigError, CredentialError
from cloudmesh.compute.lazy import require

SCOPES = ["https://www.googleapis.com/auth/compute"]

_PACKAGE = "google.cloud.compute_v1"
_IMPORT_LOCK = threading.Lock()
CLASSES = {"instances": "InstancesClient", "zone_operations": "ZoneOperationsClient",
            "global_operations": "GlobalOperationsClient", "images": "ImagesClient",
            "machine_types": "MachineTypesClient", "firewalls": "FirewallsClient",
            "projects": "ProjectsClient", "networks": "NetworksClient",
            "disks": "DisksClient", "zones": "ZonesClient"}


def service(name: str):
    """``google.cloud.compute_v1.services.<name>`` without running the package's
    ``__init__``, which imports all ~150 services (about 1 s; Python 3.15 defers them
    through its ``__lazy_modules__``). The package is put in sys.modules unexecuted; a
    lookup of one of its own names (``compute_v1.InstancesClient``) runs it then, so
    other code that imports the whole package still works."""
    _package()
    return require(f"{_PACKAGE}.services.{name}", "cloudmesh-google", "google-cloud-compute")


def _package() -> None:
    """Put the compute_v1 package in sys.modules without running its __init__."""
    with _IMPORT_LOCK:
        if _PACKAGE not in sys.modules:
            try:
                spec = importlib.util.find_spec(_PACKAGE)
            except ImportError:
                spec = None
            if spec is None or spec.loader is None:
                require(_PACKAGE, "cloudmesh-google", "google-cloud-compute")
            else:
                package = importlib.util.module_from_spec(spec)

                def attribute(name: str, package=package, spec=spec):
                    if name.startswith("__"):
                        raise AttributeError(name)
                    try:
                        return importlib.import_module(f"{_PACKAGE}.{name}")
                    except ModuleNotFoundError as error:
                        if error.name != f"{_PACKAGE}.{name}":
                            raise
                    del package.__getattr__
                    spec.loader.exec_module(package)
                    try:
                        return package.__dict__[name]
                    except KeyError:
                        raise AttributeError(name) from None

                package.__getattr__ = attribute
                sys.modules[_PACKAGE] = package
                setattr(require("google.cloud", "cloudmesh-google", "google-cloud-compute"),
                        "compute_v1", package)


def types():
    _package()
    return require(f"{_PACKAGE}.types.compute", "cloudmesh-google", "google-cloud-compute")


def client(name: str, credentials: Any, endpoint: str | None, guard: Any) -> Any:
    """The REST client of service ``name`` at ``endpoint`` (None: Google's own), whose
    requests session refuses any origin ``guard`` does not allow (issue 21), so the
    library's own paging and retries are covered too."""
    from cloudmesh.compute.kit.transport import guard_requests_session

    made = getattr(service(name), CLASSES[name])(
        credentials=credentials, transport="rest",
        client_options={"api_endpoint": endpoint} if endpoint else None)
    guard_requests_session(made._transport._session, guard)
    return made


def credentials(cloud: str, settings: dict[str, Any]) -> tuple[Any, str | None]:
    """(credentials, the project they name) from a cloud's credentials block: an access
    token, a service-account file, or Application Default Credentials, in that order."""
    where = f"cloud '{cloud}'"
    if settings.get("access_token"):
        oauth2 = require("google.oauth2.credentials", "cloudmesh-google", "google-auth")
        return oauth2.Credentials(str(settings["access_token"])), None
    if settings.get("service_account_file"):
        return _service_account(cloud, str(settings["service_account_file"]))
    auth = require("google.auth", "cloudmesh-google", "google-auth")
    exceptions = require("google.auth.exceptions", "cloudmesh-google", "google-auth")
    import os

    named = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    adc_file = named or require("google.auth._cloud_sdk", "cloudmesh-google",
                                "google-auth").get_application_default_credentials_path()
    hint = ("set credentials.access_token or credentials.service_account_file, or run "
            "'gcloud auth application-default login'")
    if not named and not os.path.exists(adc_file) and _not_on_gce():
        # nothing to find, and google-auth's GCE metadata probe (3 tries of 3 s each off
        # Google's network) can only fail: not set up, said at once
        raise CredentialError(f"{where}: no Google credentials (no access_token, no "
                              f"service_account_file, no {adc_file})", hint, code=NOT_SET_UP)
    try:
        return auth.default(scopes=SCOPES)
    except exceptions.DefaultCredentialsError as error:
        if named or os.path.exists(adc_file):  # a file is there but unusable: broken
            raise CredentialError(f"{where}: Application Default Credentials {adc_file}: "
                                  f"{str(error).splitlines()[0] if str(error) else 'unusable'}",
                                  hint) from None
        raise CredentialError(
            f"{where}: no Google credentials (no access_token, no service_account_file, "
            "no Application Default Credentials)", hint, code=NOT_SET_UP) from None


def _not_on_gce() -> bool:
    """True when this is surely no Google VM: Linux's DMI product name says another maker
    and no metadata server is named (GCE_METADATA_HOST/IP). Elsewhere (macOS, Windows, a
    sandbox without DMI) google-auth's own probe decides."""
    import os

    if os.environ.get("GCE_METADATA_HOST") or os.environ.get("GCE_METADATA_IP"):
        return False
    try:
        with open("/sys/class/dmi/id/product_name", encoding="utf-8") as handle:
            return not handle.read().strip().startswith("Google")
    except OSError:
        return False


def _service_account(cloud: str, path: str) -> tuple[Any, str | None]:
    import json
    import os

    from cloudmesh.compute.endpoints import check_endpoint

    where = f"cloud '{cloud}': credentials.service_account_file"
    try:
        with open(os.path.expanduser(path), encoding="utf-8") as handle:
            info = json.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{where}: no such file {path}") from None
    except (OSError, ValueError) as error:
        raise ConfigError(f"{where}: cannot read {path} as JSON "
                          f"({type(error).__name__})") from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise ConfigError(f"{where}: {path} is not a service-account key file",
                          "download a JSON key of a service account")
    if info.get("token_uri"):  # the file says where its signed grants are sent
        check_endpoint(info["token_uri"], f"{where} ({path}): token_uri")
    account = require("google.oauth2.service_account", "cloudmesh-google", "google-auth")
    try:
        found = account.Credentials.from_service_account_info(info, scopes=SCOPES)
    except (ValueError, KeyError) as error:
        raise ConfigError(f"{where}: {path} is not a usable service-account key "
                          f"({type(error).__name__})") from None
    return found, info.get("project_id")
