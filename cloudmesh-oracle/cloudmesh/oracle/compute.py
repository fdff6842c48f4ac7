"""Oracle Cloud Infrastructure Compute provider (kind ``oracle``), over the ``oci`` SDK.

It maps OCI Core objects to cms records and does nothing else. A VM's name is its display
name; an instance OCID works wherever a name does. Only ``oci.core`` (and, when needed,
``oci.identity`` for availability domains and ``oci.work_requests`` for launch and
terminate) is imported, and only when a cloud of this kind is used.

Credentials: a profile of ``~/.oci/config`` or user, fingerprint, key_file (pass_phrase),
tenancy, region; compartment_id (default: the tenancy), availability_domain (default: the
first), subnet_id (default: the only subnet of the compartment) and service_endpoint (one
endpoint for Compute, VirtualNetwork, Identity and WorkRequest, as the tests use).
"""

from __future__ import annotations

import base64
import re
import threading
import time
import uuid
from typing import Any

from cloudmesh.compute.abc import ComputeNodeABC, record_mapper
from cloudmesh.compute.errors import (CloudError, CmsError, CredentialError,
                                      NotFound, UsageError)
from cloudmesh.compute.lazy import require

#: OCI instance lifecycle state -> cms status
NODE_STATE_MAP = {
    "PROVISIONING": "booting",
    "STARTING": "booting",
    "RUNNING": "running",
    "MOVING": "running",
    "CREATING_IMAGE": "running",
    "STOPPING": "stopping",
    "STOPPED": "stopped",
    "TERMINATING": "deleting",
    "TERMINATED": "terminated",
}
_GONE = ("TERMINATING", "TERMINATED")
#: OCI security-rule protocol numbers <-> cms protocol names
_PROTOCOLS = {"6": "tcp", "17": "udp", "1": "icmp", "all": "all"}
_PROTOCOL_NUMBERS = {name: number for number, name in _PROTOCOLS.items()}
#: a platform image's display name ends with its build date: the rest is its family
_BUILD = re.compile(r"-\d{4}\.\d{2}\.\d{2}-\d+$")
#: OCI derives the VNIC's hostname from the display name: keep it a valid host label
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,62}")
_EXPLICIT_KEYS = ("user", "fingerprint", "key_file", "tenancy", "region", "pass_phrase")
_SIGNER_KEYS = ("user", "fingerprint", "key_file", "tenancy")
_RETRYABLE_CODES = {"TooManyRequests", "InternalServerError", "ServiceUnavailable"}
_AUTH_CODES = {"NotAuthenticated", "SignUpRequired", "InvalidAuthorization"}
_POLL_LIMIT = 1800.0  # seconds a launch or terminate work request may take before cms gives up


def _oci():
    """The oci package, with oci.core imported (the only service every verb needs)."""
    require("oci.core", "cloudmesh-oracle", "oci")
    import oci

    return oci


class Provider(ComputeNodeABC):
    kind = "oracle"
    credential_keys = ("profile", "user", "fingerprint", "key_file", "pass_phrase", "tenancy",
                       "region", "compartment_id", "availability_domain", "subnet_id",
                       "service_endpoint")
    unsupported = {
        "suspend": "OCI Compute has no suspend; use 'cms vm stop' (the boot volume stays)",
        "resume": "OCI Compute has no suspend; use 'cms vm start'",
        "keys": "OCI keeps no key pairs: cms puts the public key into each instance's "
                "metadata (ssh_authorized_keys) at boot",
    }
    key_delivery = "inject"
    default_username = "opc"

    def __init__(self, cloud: str, spec: dict[str, Any]) -> None:
        super().__init__(cloud, spec)
        self._lock = threading.Lock()
        self._config: dict[str, Any] | None = None
        self._signer = None
        self._compute = self._network = self._requests = None
        self._local = threading.local()  # per-thread VirtualNetworkClient for VNIC reads
        self._ad: str | None = self.credentials.get("availability_domain") or None

    # ---- configuration and clients -----------------------------------------------------
    @property
    def config(self) -> dict[str, Any]:
        """The oci SDK config: the profile of ~/.oci/config (when named, or when the
        entry lacks keys), overridden by the keys in cloudmesh.yaml."""
        if self._config is None:
            oci = _oci()
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
                        "'oci setup config'") from None
                except oci.exceptions.ProfileNotFound:
                    raise CredentialError(f"{where}: profile '{profile}' is not in "
                                          "~/.oci/config", "fix credentials.profile") from None
                except oci.exceptions.InvalidConfig as error:
                    raise CredentialError(f"{where}: ~/.oci/config profile '{profile}' is "
                                          f"invalid ({self._config_errors(error)})") from None
            config.update(explicit)
            try:
                oci.config.validate_config(config)
            except oci.exceptions.InvalidConfig as error:
                raise CredentialError(f"{where}: OCI credentials are incomplete or malformed "
                                      f"({self._config_errors(error)})",
                                      "fingerprint is 16 hex pairs like 12:34:...; user and "
                                      "tenancy are OCIDs") from None
            self._config = config
        return self._config

    @staticmethod
    def _config_errors(error: Exception) -> str:
        errors = getattr(error, "errors", None)
        if isinstance(errors, dict):  # names of keys and what is wrong; never values
            return ", ".join(f"{key} {problem}" for key, problem in sorted(errors.items()))
        return type(error).__name__

    @property
    def region(self) -> str | None:
        return self.credentials.get("region") or (self._config or {}).get("region")

    @property
    def compartment(self) -> str:
        return str(self.credentials.get("compartment_id") or self.config["tenancy"])

    def _client_options(self) -> dict[str, Any]:
        oci = _oci()
        if self._signer is None:
            config = self.config
            try:
                self._signer = oci.signer.Signer(
                    tenancy=config["tenancy"], user=config["user"],
                    fingerprint=config["fingerprint"],
                    private_key_file_location=config.get("key_file"),
                    pass_phrase=oci.config.get_config_value_or_default(config, "pass_phrase"),
                    private_key_content=config.get("key_content"))
            except Exception as error:
                raise self.translate_error(error) or error from None
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
        return options

    def _make(self, factory):
        return self.translated(lambda: factory(self.config, **self._client_options()))

    @property
    def compute(self):
        with self._lock:
            if self._compute is None:
                self._compute = self._make(_oci().core.ComputeClient)
            return self._compute

    @property
    def network(self):
        """A VirtualNetworkClient of the calling thread (VNICs are read concurrently and
        a client's HTTP session is not meant to be shared between threads)."""
        client = getattr(self._local, "network", None)
        if client is None:
            with self._lock:
                client = self._local.network = self._make(_oci().core.VirtualNetworkClient)
        return client

    @property
    def work_requests(self):
        with self._lock:
            if self._requests is None:
                require("oci.work_requests", "cloudmesh-oracle", "oci")
                self._requests = self._make(_oci().work_requests.WorkRequestClient)
            return self._requests

    # ---- errors --------------------------------------------------------------------------
    def translate_error(self, error: Exception) -> CmsError | None:
        if isinstance(error, CmsError):
            return error
        try:
            import oci
        except ImportError:
            return None
        exc = oci.exceptions
        where = f"cloud '{self.cloud}'"
        if isinstance(error, exc.ServiceError):
            text = f"{where}: OCI {error.code} ({error.status}): {error.message}"
            if error.status == 401 or error.code in _AUTH_CODES:
                return CredentialError(text, "check user, tenancy, fingerprint and key_file "
                                             "with 'cms check'")
            if error.status == 404:
                return NotFound(text)
            transient = (error.status == 429 or error.status >= 500
                         or error.code in _RETRYABLE_CODES)
            return CloudError(text, retryable=transient)
        if isinstance(error, exc.MissingPrivateKeyPassphrase):
            return CredentialError(f"{where}: the key_file is encrypted and no pass_phrase "
                                   "is given", "set credentials.pass_phrase as ${ENV}")
        if isinstance(error, exc.InvalidPrivateKey):
            return CredentialError(f"{where}: the key_file is not a usable private key, or "
                                   "the pass_phrase is wrong")
        if isinstance(error, (exc.InvalidKeyFilePath, FileNotFoundError)):
            return CredentialError(f"{where}: the key_file cannot be read",
                                   "fix credentials.key_file")
        if isinstance(error, (exc.ConfigFileNotFound, exc.ProfileNotFound, exc.InvalidConfig)):
            return CredentialError(f"{where}: {type(error).__name__}: "
                                   f"{self._config_errors(error)}")
        if isinstance(error, exc.ConnectTimeout):
            return CloudError(f"{where}: OCI did not answer within {self.timeout:g}s",
                              "raise cm.timeout or try later", retryable=True)
        if isinstance(error, exc.RequestException):
            return CloudError(f"{where}: cannot reach OCI: {type(error).__name__}",
                              retryable=True)
        if isinstance(error, exc.ClientError):
            return CloudError(f"{where}: {error}")
        return None

    # ---- helpers -------------------------------------------------------------------------
    def _all(self, call, *args: Any, **kwargs: Any) -> list:
        """Every item of a paged list (``opc-next-page``), each page retried alone."""
        items: list = []
        page = None
        while True:
            extra = {"page": page} if page else {}
            response = self.retry(call, *args, **kwargs, **extra)
            items.extend(response.data)
            page = response.next_page
            if not page:
                return items

    def _availability_domain(self, zone: str | None = None) -> str:
        if zone:
            return zone
        if self._ad is None:
            require("oci.identity", "cloudmesh-oracle", "oci")
            identity = self._make(_oci().identity.IdentityClient)
            domains = self.retry(identity.list_availability_domains, self.compartment).data
            if not domains:
                raise CloudError(f"cloud '{self.cloud}': the compartment has no availability "
                                 "domain", "set credentials.availability_domain")
            self._ad = sorted(d.name for d in domains)[0]
        return self._ad

    def _subnet(self, network: str | None, subnet: str | None) -> Any:
        """The subnet to launch in: credentials.subnet_id, else the named or only subnet
        (of the named or any VCN) of the compartment; several -> UsageError listing them."""
        wanted = subnet or self.credentials.get("subnet_id")
        if wanted and str(wanted).startswith("ocid1.subnet."):
            return self.retry(self.network.get_subnet, str(wanted)).data
        vcn_id = None
        if network:
            vcns = self._all(self.network.list_vcns, self.compartment)
            found = [v for v in vcns if network in (v.id, v.display_name)]
            if not found:
                raise NotFound(f"no VCN '{network}' in the compartment of cloud '{self.cloud}'",
                               "VCNs: " + ", ".join(v.display_name for v in vcns))
            vcn_id = found[0].id
        kwargs = {"vcn_id": vcn_id} if vcn_id else {}
        subnets = [s for s in self._all(self.network.list_subnets, self.compartment, **kwargs)
                   if s.lifecycle_state == "AVAILABLE"]
        if wanted:
            subnets = [s for s in subnets if s.display_name == wanted]
            if not subnets:
                raise NotFound(f"no subnet '{wanted}' in the compartment of cloud "
                               f"'{self.cloud}'")
        if not subnets:
            raise NotFound(f"cloud '{self.cloud}': the compartment has no subnet",
                           "create a VCN with a subnet, or set credentials.subnet_id")
        if len(subnets) > 1:
            names = ", ".join(f"{s.display_name} ({s.id})" for s in subnets)
            raise UsageError(f"cloud '{self.cloud}' has {len(subnets)} subnets: {names}",
                             "choose one with --subnet or credentials.subnet_id")
        return subnets[0]

    def _vcn_id(self) -> str:
        """The VCN new network security groups belong to: that of credentials.subnet_id,
        else default.network, else the compartment's only VCN."""
        if self.credentials.get("subnet_id"):
            subnet = self.retry(self.network.get_subnet, str(self.credentials["subnet_id"]))
            return subnet.data.vcn_id
        vcns = [v for v in self._all(self.network.list_vcns, self.compartment)
                if v.lifecycle_state == "AVAILABLE"]
        wanted = self.defaults.get("network")
        if wanted:
            vcns = [v for v in vcns if wanted in (v.id, v.display_name)]
        if len(vcns) == 1:
            return vcns[0].id
        if not vcns:
            raise NotFound(f"cloud '{self.cloud}': no VCN{' ' + str(wanted) if wanted else ''} "
                           "in the compartment", "create one, or set default.network")
        names = ", ".join(f"{v.display_name} ({v.id})" for v in vcns)
        raise UsageError(f"cloud '{self.cloud}' has {len(vcns)} VCNs: {names}",
                         f"choose one with 'cms set {self.cloud}.network=NAME'")

    def _instances(self, name: str | None = None) -> list:
        kwargs = {"display_name": name} if name else {}
        return self._all(self.compute.list_instances, self.compartment, limit=1000, **kwargs)

    def _find(self, name: str, live: bool = False):
        """The instance a name stands for: a live one with that display name (or that
        OCID); TERMINATED ones stay listed for hours and count only when none is live."""
        if name.startswith("ocid1.instance."):
            instance = self.retry(self.compute.get_instance, name).data
            found = [instance]
        else:
            found = self._instances(name)
        current = [i for i in found if i.lifecycle_state not in _GONE]
        if len(current) > 1:
            ids = ", ".join(i.id for i in current)
            raise UsageError(f"{len(current)} VMs on '{self.cloud}' are named '{name}' ({ids})",
                             "use the instance OCID instead of the name")
        if current:
            return current[0]
        if found and not live:
            return max(found, key=lambda i: i.time_created)
        if found:
            raise NotFound(f"VM '{name}' on cloud '{self.cloud}' is terminated")
        raise NotFound(f"no VM named '{name}' on cloud '{self.cloud}'",
                       f"see 'cms vm list --cloud={self.cloud}'")

    def _addresses(self, instances: list) -> dict[str, list]:
        """instance id -> its VNICs (primary first): one attachment list for the
        compartment (or the instance), then the VNICs read concurrently."""
        if not instances:
            return {}
        kwargs = {"instance_id": instances[0].id} if len(instances) == 1 else {}
        attachments = [a for a in self._all(self.compute.list_vnic_attachments,
                                            self.compartment, **kwargs)
                       if a.vnic_id and a.lifecycle_state == "ATTACHED"]
        wanted = {i.id for i in instances}
        attachments = [a for a in attachments if a.instance_id in wanted]

        def read(attachment):
            try:
                return attachment.instance_id, self.retry(self.network.get_vnic,
                                                          attachment.vnic_id).data
            except NotFound:  # detached meanwhile
                return attachment.instance_id, None

        if len(attachments) <= 1:
            pairs = [read(a) for a in attachments]
        else:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=min(16, len(attachments))) as pool:
                pairs = list(pool.map(read, attachments))
        vnics: dict[str, list] = {}
        for instance_id, vnic in pairs:
            if vnic is not None:
                vnics.setdefault(instance_id, []).append(vnic)
        for found in vnics.values():
            found.sort(key=lambda v: not v.is_primary)
        return vnics

    def _nsg_names(self, vnics: dict[str, list]) -> dict[str, str]:
        if not any(v.nsg_ids for found in vnics.values() for v in found):
            return {}
        groups = self._all(self.network.list_network_security_groups,
                           compartment_id=self.compartment)
        return {g.id: g.display_name for g in groups}

    # ---- mappers -------------------------------------------------------------------------
    @record_mapper("instance")
    def _to_vm(self, instance, vnics: list | None = None,
               groups: dict[str, str] | None = None) -> dict[str, Any]:
        vnics = vnics or []
        state = instance.lifecycle_state
        metadata = instance.metadata or {}
        source = instance.source_details
        shape_config = instance.shape_config
        nsg_ids = [n for v in vnics for n in (v.nsg_ids or [])]
        return self.vm_record(
            name=instance.display_name or instance.id,
            id=instance.id,
            status=NODE_STATE_MAP.get(state, "unknown"),
            state=state,
            image=getattr(source, "image_id", None) or instance.image_id,
            flavor=instance.shape,
            public_ips=[v.public_ip for v in vnics if v.public_ip],
            private_ips=[v.private_ip for v in vnics if v.private_ip],
            key=metadata.get("cms_key"),
            secgroups=[(groups or {}).get(n, n) for n in nsg_ids],
            region=self.region,
            zone=instance.availability_domain,
            created=instance.time_created,
            metadata=dict(instance.freeform_tags or {}),
            native={"compartment_id": instance.compartment_id,
                    "fault_domain": instance.fault_domain,
                    "ocpus": getattr(shape_config, "ocpus", None),
                    "memory_gb": getattr(shape_config, "memory_in_gbs", None)},
        )

    @record_mapper("image")
    def _to_image(self, image) -> dict[str, Any]:
        return self.image_record(
            name=image.display_name or image.id,
            id=image.id,
            os=image.operating_system,
            version=image.operating_system_version,
            status=image.lifecycle_state,
            created=image.time_created,
        )

    @staticmethod
    def _vcpus_per_ocpu(shape) -> int:
        """An OCPU is one core: two hardware threads on x86, one on Ampere A1 (Arm)."""
        name = getattr(shape, "shape", "") or ""
        processor = (getattr(shape, "processor_description", "") or "").lower()
        return 1 if ".A1." in name or "ampere" in processor else 2

    @record_mapper("shape")
    def _to_flavor(self, shape, ocpus: float | None = None, memory_gb: float | None = None,
                   name: str | None = None) -> dict[str, Any]:
        ocpus = ocpus or shape.ocpus or 1
        memory_gb = memory_gb or shape.memory_in_gbs or 0
        return self.flavor_record(
            name=name or shape.shape,
            id=name or shape.shape,
            vcpus=max(1, int(round(ocpus * self._vcpus_per_ocpu(shape)))),
            ram_mb=int(round(memory_gb * 1024)),
            disk_gb=int(shape.local_disks_total_size_in_gbs or 0),
            native={"flexible": bool(shape.is_flexible), "ocpus": ocpus,
                    "processor": shape.processor_description},
        )

    # ---- VMs -------------------------------------------------------------------------------
    def _records(self, instances: list) -> list[dict[str, Any]]:
        vnics = self._addresses([i for i in instances if i.lifecycle_state not in _GONE])
        groups = self._nsg_names(vnics)
        return [self._to_vm(i, vnics.get(i.id), groups) for i in instances]

    def list(self) -> list[dict[str, Any]]:
        return self._records(self._instances())

    def info(self, name: str) -> dict[str, Any]:
        return self._records([self._find(name)])[0]

    def check_name(self, name: str) -> None:
        if not (isinstance(name, str) and _NAME.fullmatch(name)):
            raise UsageError(f"'{name}' is not a valid VM name on {self.kind}",
                             "OCI makes the VM's hostname from it: use up to 63 letters, "
                             "digits and '-', starting with a letter")

    def create(self, spec) -> dict[str, Any]:
        oci = _oci()
        models = oci.core.models
        image = self.resolve_image(spec.image)
        shape, ocpus, memory_gb = self._shape(spec.flavor)
        subnet = self._subnet(spec.network, spec.subnet)
        metadata = self._boot_metadata(spec, image)
        nsg_ids = self._nsg_ids(spec.secgroups) if spec.secgroups else None
        details = models.LaunchInstanceDetails(
            compartment_id=self.compartment,
            # an AD-specific subnet decides the AD; a regional one takes any
            availability_domain=self._availability_domain(
                spec.zone or getattr(subnet, "availability_domain", None)),
            display_name=spec.name,
            shape=shape.shape,
            source_details=models.InstanceSourceViaImageDetails(
                image_id=image["id"], boot_volume_size_in_gbs=spec.disk_gb),
            create_vnic_details=models.CreateVnicDetails(
                subnet_id=subnet.id, assign_public_ip=bool(spec.public_ip), nsg_ids=nsg_ids),
            metadata=metadata,
            freeform_tags=dict(spec.metadata or {}) or None,
        )
        if shape.is_flexible:
            details.shape_config = models.LaunchInstanceShapeConfigDetails(
                ocpus=ocpus, memory_in_gbs=memory_gb)
        # sent once: after a lost answer the facade looks for the VM before it tries
        # again, and then the same token makes OCI answer with the first instance
        response = self.compute.launch_instance(details, opc_retry_token=spec.token)
        instance = response.data
        self._wait_for_work(response.headers.get("opc-work-request-id"),
                            f"launch of '{spec.name}'")
        instance = self.retry(self.compute.get_instance, instance.id).data
        if instance.lifecycle_state in _GONE:
            raise CloudError(f"cloud '{self.cloud}': '{spec.name}' ended "
                             f"{instance.lifecycle_state} while launching",
                             "see the instance's work requests in the console")
        return self._records([instance])[0]

    @staticmethod
    def _image_login(image: dict[str, Any]) -> str:
        """The login OCI gives ``ssh_authorized_keys`` to: ubuntu on Ubuntu images, opc on
        Oracle Linux and the others."""
        return "ubuntu" if "ubuntu" in str(image.get("os") or "").lower() else "opc"

    def default_username_for(self, image: str) -> str:
        return self._image_login(self.resolve_image(image))

    def _boot_metadata(self, spec, image: dict[str, Any]) -> dict[str, str]:
        """The instance metadata: the key as ``ssh_authorized_keys`` (OCI gives it to the
        image's own login), and cloud-init ``user_data`` that makes another --username
        with the key. The user's own userdata is kept (cloud-config merged, anything else
        sent beside it as MIME multipart)."""
        metadata: dict[str, str] = {}
        key = spec.key or {}
        public_key = key.get("public_key")
        if public_key:
            metadata["ssh_authorized_keys"] = public_key.strip()
            metadata["cms_key"] = str(key.get("name") or "")
        login = self._image_login(image)
        user = None
        if public_key and spec.username and spec.username != login:
            user = {"name": spec.username, "sudo": "ALL=(ALL) NOPASSWD:ALL",
                    "shell": "/bin/bash", "ssh_authorized_keys": [public_key.strip()]}
        userdata = _merge_userdata(spec.userdata, user)
        if userdata:
            metadata["user_data"] = base64.b64encode(userdata.encode()).decode()
        return metadata

    def _nsg_ids(self, names: list[str]) -> list[str]:
        groups = {g.display_name: g.id for g in self._all(
            self.network.list_network_security_groups, compartment_id=self.compartment)
            if g.lifecycle_state == "AVAILABLE"}
        ids = []
        for name in names:
            if name.startswith("ocid1.networksecuritygroup."):
                ids.append(name)
            elif name in groups:
                ids.append(groups[name])
            else:
                raise NotFound(f"network security group '{name}' is not on cloud "
                               f"'{self.cloud}'", "upload it with 'cms secgroup upload'")
        return ids

    def _wait_for_work(self, work_request_id: str | None, what: str) -> None:
        """Wait for an OCI work request; a FAILED one is a CloudError with OCI's errors."""
        if not work_request_id:
            return
        client = self.work_requests
        started, delay = time.monotonic(), 0.1
        while True:
            request = self.retry(client.get_work_request, work_request_id).data
            if request.status == "SUCCEEDED":
                return
            if request.status in ("FAILED", "CANCELED"):
                errors = self._all(client.list_work_request_errors, work_request_id)
                reason = "; ".join(f"{e.code}: {e.message}" for e in errors) or request.status
                raise CloudError(f"cloud '{self.cloud}': {what} failed: {reason}")
            if time.monotonic() - started > _POLL_LIMIT:
                raise CloudError(f"cloud '{self.cloud}': {what} still {request.status} after "
                                 f"{_POLL_LIMIT:g}s (work request {work_request_id})")
            time.sleep(delay)
            delay = min(5.0, delay * 1.5)

    def _action(self, name: str, action: str) -> dict[str, Any]:
        instance = self._find(name, live=True)
        # an action with a retry token may be sent again after a lost answer
        token = uuid.uuid4().hex
        instance = self.retry(self.compute.instance_action, instance.id, action,
                              opc_retry_token=token).data
        return self._records([instance])[0]

    def start(self, name: str) -> dict[str, Any]:
        return self._action(name, "START")

    def stop(self, name: str) -> dict[str, Any]:
        return self._action(name, "STOP")

    def reboot(self, name: str) -> dict[str, Any]:
        hard = str(self.defaults.get("hard_reboot", "")).lower() in ("true", "yes", "1")
        record = self._action(name, "RESET" if hard else "SOFTRESET")
        if record["status"] in ("stopping", "booting"):
            record["status"] = "rebooting"  # OCI shows a reset as STOPPING, STARTING
        return record

    def destroy(self, name: str) -> dict[str, Any]:
        instance = self._find(name, live=True)
        keep = str(self.defaults.get("preserve_boot_volume", "")).lower() in ("true", "yes",
                                                                              "1")
        response = self.retry(self.compute.terminate_instance, instance.id,
                              preserve_boot_volume=keep)
        try:
            self._wait_for_work(response.headers.get("opc-work-request-id"),
                                f"termination of '{name}'")
        except CloudError as error:
            raise CloudError(f"{error.message} (the instance {instance.id} and its boot "
                             "volume may remain)") from error
        return self._to_vm(self.retry(self.compute.get_instance, instance.id).data)

    def metadata_set(self, name: str, metadata: dict[str, str]) -> dict[str, str]:
        instance = self._find(name, live=True)
        tags = {**(instance.freeform_tags or {}), **{str(k): str(v) for k, v in
                                                      metadata.items()}}
        details = _oci().core.models.UpdateInstanceDetails(freeform_tags=tags)
        updated = self.retry(self.compute.update_instance, instance.id, details).data
        return dict(updated.freeform_tags or {})

    # ---- images and flavors ------------------------------------------------------------
    def _image_objects(self, **kwargs: Any) -> list:
        return self._all(self.compute.list_images, self.compartment, **kwargs)

    def images(self) -> list[dict[str, Any]]:
        """The compartment's own images and the newest build of each platform family."""
        newest: dict[str, Any] = {}
        own = []
        for image in self._image_objects(lifecycle_state="AVAILABLE"):
            if image.compartment_id:
                own.append(image)
                continue
            family = _BUILD.sub("", image.display_name or image.id)
            if family not in newest or image.time_created > newest[family].time_created:
                newest[family] = image
        chosen = own + sorted(newest.values(), key=lambda i: i.display_name or "")
        return [self._to_image(i) for i in chosen]

    def image(self, name: str) -> dict[str, Any]:
        return self.resolve_image(name)

    def resolve_image(self, ref: str) -> dict[str, Any]:
        """An image by OCID, display name, or family (a display name without its build
        date, e.g. Oracle-Linux-9.4, or "Canonical Ubuntu 24.04"): the newest build."""
        if ref.startswith("ocid1.image."):
            return self._to_image(self.retry(self.compute.get_image, ref).data)
        found = self._image_objects(display_name=ref)
        if not found:
            found = [i for i in self._image_objects(lifecycle_state="AVAILABLE")
                     if ref in (_BUILD.sub("", i.display_name or ""),
                                f"{i.operating_system} {i.operating_system_version}")
                     # x86 builds unless the reference names the Arm family
                     and ("aarch64" in ref) == ("aarch64" in (i.display_name or ""))]
        if not found:
            raise NotFound(f"no image '{ref}' on cloud '{self.cloud}'",
                           f"see 'cms image list --cloud={self.cloud}'")
        return self._to_image(max(found, key=lambda i: i.time_created))

    def _shape_objects(self) -> list:
        seen: dict[str, Any] = {}
        for shape in self._all(self.compute.list_shapes, self.compartment):
            seen.setdefault(shape.shape, shape)
        return sorted(seen.values(), key=lambda s: s.shape)

    def flavors(self) -> list[dict[str, Any]]:
        return [self._to_flavor(s) for s in self._shape_objects()]

    def _shape(self, ref: str) -> tuple[Any, float | None, float | None]:
        """A shape and, for a flexible one, its OCPUs and memory: ``SHAPE``,
        ``SHAPE:OCPUS`` or ``SHAPE:OCPUS:MEMORY_GB`` (defaults: default.ocpus,
        default.memory_gb, else the shape's own)."""
        name, _, sizes = ref.partition(":")
        shapes = {s.shape: s for s in self._shape_objects()}
        shape = shapes.get(name)
        if shape is None:
            raise NotFound(f"no flavor '{ref}' on cloud '{self.cloud}'",
                           f"see 'cms flavor list --cloud={self.cloud}'")
        if not shape.is_flexible:
            if sizes:
                raise UsageError(f"{name} is not a flexible shape: it takes no OCPU count")
            return shape, None, None
        ocpus_text, _, memory_text = sizes.partition(":")
        try:
            ocpus = float(ocpus_text or self.defaults.get("ocpus") or
                          getattr(shape.ocpu_options, "min", None) or shape.ocpus or 1)
            per_ocpu = getattr(shape.memory_options, "default_per_ocpu_in_g_bs", None)
            memory = float(memory_text or self.defaults.get("memory_gb") or
                           (ocpus * per_ocpu if per_ocpu else shape.memory_in_gbs))
        except ValueError:
            raise UsageError(f"'{ref}' is not SHAPE[:OCPUS[:MEMORY_GB]]") from None
        return shape, ocpus, memory

    def flavor(self, name: str) -> dict[str, Any]:
        shape, ocpus, memory = self._shape(name)
        return self._to_flavor(shape, ocpus, memory, name=name)

    # ---- network security groups -------------------------------------------------------
    def _groups(self) -> list:
        return [g for g in self._all(self.network.list_network_security_groups,
                                     compartment_id=self.compartment)
                if g.lifecycle_state not in ("TERMINATING", "TERMINATED")]

    def _group(self, name: str):
        for group in self._groups():
            if name in (group.display_name, group.id):
                return group
        raise NotFound(f"no network security group '{name}' on cloud '{self.cloud}'")

    @staticmethod
    def _to_rule(rule) -> dict[str, Any]:
        protocol = _PROTOCOLS.get(str(rule.protocol), str(rule.protocol))
        low = high = None
        options = rule.tcp_options if protocol == "tcp" else (
            rule.udp_options if protocol == "udp" else None)
        if protocol in ("tcp", "udp"):
            ports = getattr(options, "destination_port_range", None)
            low, high = (ports.min, ports.max) if ports else (0, 65535)
        ingress = rule.direction == "INGRESS"
        return {"direction": "ingress" if ingress else "egress", "protocol": protocol,
                "from_port": low, "to_port": high,
                "cidr": rule.source if ingress else rule.destination}

    def _rules(self, group_id: str) -> list:
        return self._all(self.network.list_network_security_group_security_rules, group_id)

    @record_mapper("network security group")
    def _to_secgroup(self, group, rules: list) -> dict[str, Any]:
        return self.secgroup_record(
            name=group.display_name or group.id, id=group.id,
            description=(group.freeform_tags or {}).get("description"),
            rules=[self._to_rule(r) for r in rules],
            native={"vcn_id": group.vcn_id})

    def secgroups(self) -> list[dict[str, Any]]:
        groups = self._groups()
        return sorted((self._to_secgroup(g, self._rules(g.id)) for g in groups),
                      key=lambda g: g["name"])

    def secgroup_create(self, name: str, description: str) -> dict[str, Any]:
        models = _oci().core.models
        vcn_id = self._vcn_id()
        details = models.CreateNetworkSecurityGroupDetails(
            compartment_id=self.compartment, vcn_id=vcn_id, display_name=name,
            freeform_tags={"description": description} if description else None)
        # the token makes a retried create answer the first group instead of a second one
        group = self.retry(self.network.create_network_security_group, details,
                           opc_retry_token=uuid.uuid4().hex).data
        return self._to_secgroup(group, [])

    @staticmethod
    def _add_details(models, rule: dict[str, Any]):
        protocol = _PROTOCOL_NUMBERS[rule["protocol"]]
        ingress = rule.get("direction", "ingress") == "ingress"
        details = models.AddSecurityRuleDetails(
            direction="INGRESS" if ingress else "EGRESS", protocol=protocol,
            is_stateless=False)
        if ingress:
            details.source, details.source_type = rule["cidr"], "CIDR_BLOCK"
        else:
            details.destination, details.destination_type = rule["cidr"], "CIDR_BLOCK"
        low, high = rule.get("from_port"), rule.get("to_port")
        every_port = low is None or (low in (0, 1) and high == 65535)
        if rule["protocol"] in ("tcp", "udp") and not every_port:
            ports = models.PortRange(min=max(1, low), max=high)
            if rule["protocol"] == "tcp":
                details.tcp_options = models.TcpOptions(destination_port_range=ports)
            else:
                details.udp_options = models.UdpOptions(destination_port_range=ports)
        return details

    def secgroup_add_rules(self, name: str, rules: list[dict[str, Any]]) -> None:
        models = _oci().core.models
        group = self._group(name)
        body = models.AddNetworkSecurityGroupSecurityRulesDetails(
            security_rules=[self._add_details(models, r) for r in rules])
        self.network.add_network_security_group_security_rules(group.id, body)

    def secgroup_remove_rules(self, name: str, rules: list[dict[str, Any]]) -> None:
        from cloudmesh.compute.secgroups import rule_key

        models = _oci().core.models
        group = self._group(name)
        unwanted = {rule_key(r) for r in rules}
        ids = [r.id for r in self._rules(group.id) if rule_key(self._to_rule(r)) in unwanted]
        if ids:
            self.network.remove_network_security_group_security_rules(
                group.id, models.RemoveNetworkSecurityGroupSecurityRulesDetails(
                    security_rule_ids=ids))

    def secgroup_delete(self, name: str) -> None:
        self.network.delete_network_security_group(self._group(name).id)

    # ---- health ------------------------------------------------------------------------------
    def check(self) -> str:
        shapes = self.retry(self.compute.list_shapes, self.compartment, limit=100).data
        return f"region {self.region}, {len(shapes)} shapes visible"


def _merge_userdata(userdata: str | None, user: dict[str, Any] | None) -> str | None:
    """The user's cloud-init with ``user`` added to its users (after cloud-init's
    ``default`` user, so the image's own login keeps working)."""
    if user is None:
        return userdata
    if not userdata or userdata.lstrip().startswith("#cloud-config"):
        import yaml

        document = (yaml.safe_load(userdata) if userdata else None) or {}
        if not isinstance(document, dict):
            raise UsageError("the userdata is #cloud-config but not a YAML mapping")
        users = document.get("users") or ["default"]
        document["users"] = [*users, user]
        return "#cloud-config\n" + yaml.safe_dump(document, sort_keys=False)
    import yaml
    from email.mime.multipart import MIMEMultipart
    from email.mime.text import MIMEText

    message = MIMEMultipart()
    config = "#cloud-config\n" + yaml.safe_dump({"users": ["default", user]}, sort_keys=False)
    message.attach(MIMEText(config, "cloud-config"))
    message.attach(MIMEText(userdata, "x-shellscript" if userdata.startswith("#!")
                            else "plain"))
    return message.as_string()
