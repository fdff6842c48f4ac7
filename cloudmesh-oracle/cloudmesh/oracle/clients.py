"""The oracle provider's set-up: the oci SDK config (``~/.oci/config`` profile and the
cloudmesh.yaml keys), the request signer, and the OCI clients, each made on first use
(the kit's ``client_on_first_use``) and sending only to the allowed origins (issue 21).
Mixed into ``Provider`` (compute.py)."""

from __future__ import annotations

import hashlib
import os
import threading
from typing import Any

from cloudmesh.compute.errors import NOT_SET_UP, CredentialError
from cloudmesh.compute.kit.clients import client_on_first_use
from cloudmesh.compute.lazy import require

_EXPLICIT_KEYS = ("user", "fingerprint", "key_file", "tenancy", "region", "pass_phrase")
_SIGNER_KEYS = ("user", "fingerprint", "key_file", "tenancy")


def oci_sdk():
    """The oci package, with oci.core imported (the only service every verb needs)."""
    require("oci.core", "cloudmesh-oracle", "oci")
    import oci

    return oci


def config_errors(error: Exception) -> str:
    """What an oci InvalidConfig says is wrong: names of keys and problems, never values."""
    errors = getattr(error, "errors", None)
    if isinstance(errors, dict):
        return ", ".join(f"{key} {problem}" for key, problem in sorted(errors.items()))
    return type(error).__name__


#: signers made in this process, by the API key's identity and the digests of the key's
#: bytes and pass phrase: parsing and checking an RSA key costs a tenth of a second, paid
#: once per key, not once per provider (each cms> command, each cloud of --cloud=all)
_SIGNERS: dict[tuple[str, ...], Any] = {}
_SIGNERS_LOCK = threading.Lock()
_SIGNERS_KEPT = 16
#: salts the digests, so that a pass phrase's digest cannot be looked up in a table
_SALT = os.urandom(16)


def _digest(data: bytes | str | None) -> str:
    raw = data.encode() if isinstance(data, str) else data or b""
    return hashlib.sha256(_SALT + raw).hexdigest()


def signer_for(config: dict[str, Any], pass_phrase: str | None) -> Any:
    """The oci Signer of ``config``'s API key; the same key file content with the same
    pass phrase gives the signer already made (a changed file or pass phrase: a new one).
    A key file that cannot be read is left to the SDK, which reports it as it does."""
    import oci.signer

    content = config.get("key_content")
    if not content and config.get("key_file"):
        try:
            with open(os.path.expanduser(str(config["key_file"])), "rb") as file:
                content = file.read().strip()
        except OSError:
            content = None
    if not content:
        return oci.signer.Signer(
            tenancy=config["tenancy"], user=config["user"], fingerprint=config["fingerprint"],
            private_key_file_location=config.get("key_file"), pass_phrase=pass_phrase,
            private_key_content=config.get("key_content"))
    key = (str(config["tenancy"]), str(config["user"]), str(config["fingerprint"]),
           _digest(content), _digest(pass_phrase))
    with _SIGNERS_LOCK:
        signer = _SIGNERS.get(key)
    if signer is None:
        signer = oci.signer.Signer(
            tenancy=config["tenancy"], user=config["user"], fingerprint=config["fingerprint"],
            private_key_file_location=None, pass_phrase=pass_phrase,
            private_key_content=content)
        with _SIGNERS_LOCK:
            while len(_SIGNERS) >= _SIGNERS_KEPT:
                _SIGNERS.pop(next(iter(_SIGNERS)))
            _SIGNERS[key] = signer
    return signer


class OciClients:
    """``config``, ``region``, ``compartment`` and the clients ``compute``, ``network``
    (one per thread), ``work_requests`` and ``identity``."""

    @client_on_first_use
    def config(self) -> dict[str, Any]:
        """The oci SDK config: the profile of ~/.oci/config (when named, or when the
        entry lacks keys), overridden by the keys in cloudmesh.yaml."""
        oci = oci_sdk()
        creds = self.credentials
        explicit = {k: str(creds[k]) for k in _EXPLICIT_KEYS if creds.get(k)}
        config: dict[str, Any] = {}
        where = f"cloud '{self.cloud}'"
        if creds.get("profile") or not all(k in explicit for k in _SIGNER_KEYS):
            profile = str(creds.get("profile") or "DEFAULT")
            try:
                config = oci.config.from_file(profile_name=profile)
            except oci.exceptions.ConfigFileNotFound:
                missing = [k for k in _SIGNER_KEYS if k not in explicit]
                raise CredentialError(
                    f"{where}: no ~/.oci/config, and credentials lack {', '.join(missing)}",
                    "set user, fingerprint, key_file, tenancy and region, or run "
                    "'oci setup config'",
                    # not one signer key anywhere: not set up yet (some of them: broken)
                    code=NOT_SET_UP if len(missing) == len(_SIGNER_KEYS) else None) from None
            except oci.exceptions.ProfileNotFound:
                raise CredentialError(f"{where}: profile '{profile}' is not in "
                                      "~/.oci/config", "fix credentials.profile") from None
            except oci.exceptions.InvalidConfig as error:
                raise CredentialError(f"{where}: ~/.oci/config profile '{profile}' is "
                                      f"invalid ({config_errors(error)})") from None
        config.update(explicit)
        try:
            oci.config.validate_config(config)
        except oci.exceptions.InvalidConfig as error:
            raise CredentialError(f"{where}: OCI credentials are incomplete or malformed "
                                  f"({config_errors(error)})",
                                  "fingerprint is 16 hex pairs like 12:34:...; user and "
                                  "tenancy are OCIDs") from None
        return config

    @property
    def region(self) -> str | None:
        # the config once read, else only what cloudmesh.yaml says (no file read for it)
        return self.credentials.get("region") or (vars(self).get("config") or {}).get("region")

    @property
    def compartment(self) -> str:
        return str(self.credentials.get("compartment_id") or self.config["tenancy"])

    @client_on_first_use
    def _signer(self) -> Any:
        oci, config = oci_sdk(), self.config
        try:
            return signer_for(config, oci.config.get_config_value_or_default(config,
                                                                              "pass_phrase"))
        except Exception as error:
            raise self.translate_error(error) or error from None

    def _make(self, factory) -> Any:
        """A client whose HTTP session sends only to the allowed origins (issue 21): the
        configured service_endpoint, else the region's endpoint the SDK chose; every page
        and poll the SDK itself follows goes through the same guarded session."""
        from cloudmesh.compute.kit.transport import guard_requests_session

        oci = oci_sdk()
        options: dict[str, Any] = {
            "signer": self._signer,
            # cms retries reads itself (self.retry) within cm.retries/cm.timeout; no
            # circuit breaker, so one cloud that fails is reported, not silently blocked
            "retry_strategy": oci.retry.NoneRetryStrategy(),
            "circuit_breaker_strategy": oci.circuit_breaker.NoCircuitBreakerStrategy(),
            "timeout": (min(10.0, self.timeout), self.timeout),
        }
        if self.credentials.get("service_endpoint"):
            options["service_endpoint"] = str(self.credentials["service_endpoint"])
        client = self.translated(lambda: factory(self.config, **options))
        if not self.credentials.get("service_endpoint"):
            self.guard.allow(client.base_client.endpoint)
        guard_requests_session(client.base_client.session, self.guard)
        return client

    @client_on_first_use
    def compute(self) -> Any:
        return self._make(oci_sdk().core.ComputeClient)

    @client_on_first_use
    def _per_thread(self) -> threading.local:
        return threading.local()

    @property
    def network(self) -> Any:
        """A VirtualNetworkClient of the calling thread (VNICs are read concurrently and
        a client's HTTP session is not meant to be shared between threads), so not one
        ``client_on_first_use`` per provider."""
        client = getattr(self._per_thread, "network", None)
        if client is None:
            client = self._per_thread.network = self._make(
                oci_sdk().core.VirtualNetworkClient)
        return client

    @client_on_first_use
    def work_requests(self) -> Any:
        require("oci.work_requests", "cloudmesh-oracle", "oci")
        return self._make(oci_sdk().work_requests.WorkRequestClient)

    @client_on_first_use
    def identity(self) -> Any:
        require("oci.identity", "cloudmesh-oracle", "oci")
        return self._make(oci_sdk().identity.IdentityClient)
