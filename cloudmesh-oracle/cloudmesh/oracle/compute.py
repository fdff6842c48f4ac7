"""Oracle Cloud Infrastructure Compute provider (kind ``oracle``), over the ``oci`` SDK.

It maps OCI Core objects to cms records and does nothing else. A VM's name is its display
name; an instance OCID works wherever a name does. Only ``oci.core`` (and, when needed,
``oci.identity`` for availability domains and ``oci.work_requests`` for launch and
terminate) is imported, and only when a cloud of this kind is used.

Beside it: ``clients`` (config, signer, clients), ``images`` (catalogue, image references,
an image's login) and ``network`` (subnets, VCNs, network security groups).

Credentials: a profile of ``~/.oci/config`` or user, fingerprint, key_file (pass_phrase),
tenancy, region; compartment_id (default: the tenancy), availability_domain (default: the
first), subnet_id (default: the only subnet of the compartment) and service_endpoint (one
endpoint for Compute, VirtualNetwork, Identity and WorkRequest, as the tests use).
"""

from __future__ import annotations

import base64
import re
import uuid
from typing import Any

from cloudmesh.compute.abc import ComputeNodeABC, record_mapper
from cloudmesh.compute.errors import (CloudError, CmsError, CredentialError,
                                      NotFound, UsageError)
from cloudmesh.compute.kit.cloudinit import add_user
from cloudmesh.compute.kit.deadline import bounded
from cloudmesh.compute.kit.finding import find_one
from cloudmesh.compute.kit.http import classify_http
from cloudmesh.compute.kit.paging import MAX_PAGES, pages
from cloudmesh.compute.kit.polling import poll_until
from cloudmesh.compute.settings import seconds_setting
from cloudmesh.oracle.clients import OciClients, config_errors, oci_sdk
from cloudmesh.oracle.images import ImageCatalogue, arch, image_login
from cloudmesh.oracle.network import NetworkMixin

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
#: OCI derives the VNIC's hostname from the display name: keep it a valid host label
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,62}")
#: seconds a launch or terminate work request may take (default.work_timeout overrides)
WORK_TIMEOUT = 1800.0
#: the longest pause between two polls of a work request, in seconds (default.poll_interval
#: overrides): the first pause is 0.1 s (or this, if shorter), then it doubles up to it
POLL_INTERVAL = 5.0


class Provider(OciClients, ImageCatalogue, NetworkMixin, ComputeNodeABC):
    kind = "oracle"
    credential_keys = ("profile", "user", "fingerprint", "key_file", "pass_phrase", "tenancy",
                       "region", "compartment_id", "availability_domain", "subnet_id",
                       "service_endpoint")
    #: default: keys beyond the common ones (cloudmesh.compute.settings)
    settings = {"hard_reboot": bool, "preserve_boot_volume": bool, "ocpus": float,
                "memory_gb": float, "work_timeout": float, "poll_interval": float}
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
        self._image_logins: dict[str, str] = {}  # image id -> its login (records' username)
        self._ad: str | None = self.credentials.get("availability_domain") or None
        # a declared setting: the base class has refused a value that is no number
        self.work_timeout = float(self.defaults.get("work_timeout") or WORK_TIMEOUT)
        self.poll_interval = seconds_setting(self.defaults, "poll_interval", POLL_INTERVAL)

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
            hint = ("check user, tenancy, fingerprint and key_file with 'cms check'"
                    if error.status in (401, 403) else None)
            return classify_http(error.status, error.code,
                                 f"OCI {error.code} ({error.status}): {error.message}",
                                 cloud=self.cloud, hint=hint)
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
                                   f"{config_errors(error)}")
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
    def _call(self, call, *args: Any, **kwargs: Any):
        """One SDK call, retried when retryable, each try bounded by cm.timeout as a whole
        (connect, slow reads: an endpoint sending a byte a second cannot hold cms)."""
        what = f"cloud '{self.cloud}' (OCI)"
        return self.retry(lambda: bounded(lambda: call(*args, **kwargs), self.timeout, what))

    def _all(self, call, *args: Any, **kwargs: Any) -> list:
        """Every item of a paged list (``opc-next-page``), each page retried alone; a
        repeated page token or more than the kit's page limit stops it."""
        def fetch(page: str | None):
            response = self._call(call, *args, **kwargs, **({"page": page} if page else {}))
            return response.data, response.next_page

        return list(pages(fetch, what=f"cloud '{self.cloud}': {call.__name__}",
                          max_pages=MAX_PAGES))

    def _availability_domain(self, zone: str | None = None) -> str:
        if zone:
            return zone
        if self._ad is None:
            domains = self._call(self.identity.list_availability_domains,
                                 self.compartment).data
            if not domains:
                raise CloudError(f"cloud '{self.cloud}': the compartment has no availability "
                                 "domain", "set credentials.availability_domain")
            self._ad = sorted(d.name for d in domains)[0]
        return self._ad

    def _instances(self, name: str | None = None) -> list:
        kwargs = {"display_name": name} if name else {}
        return self._all(self.compute.list_instances, self.compartment, limit=1000, **kwargs)

    def _find(self, name: str, live: bool = False):
        """The instance a reference stands for: its OCID, or the exact display name (any
        characters OCI allows) of one live instance (the kit's ``find_one``). TERMINATED
        instances stay listed for hours: without ``live`` the newest one answers when
        no live instance has the name."""
        if name.startswith("ocid1.instance."):
            instance = self._call(self.compute.get_instance, name).data
            if live and instance.lifecycle_state in _GONE:
                raise NotFound(f"VM '{name}' on cloud '{self.cloud}' is terminated")
            return instance
        found = self._instances(name)
        records = [{"id": i.id, "name": i.display_name, "object": i,
                    "status": NODE_STATE_MAP.get(i.lifecycle_state, "unknown")}
                   for i in found if i.lifecycle_state != "TERMINATING"]
        try:
            return find_one(records, name, cloud=self.cloud)["object"]
        except NotFound:
            if found and not live:
                return max(found, key=lambda i: i.time_created)
            raise

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
                return attachment.instance_id, self._call(self.network.get_vnic,
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
        ) | {"username": metadata.get("cms_username") or self._login_of_image(
            getattr(source, "image_id", None) or instance.image_id)}

    @record_mapper("image")
    def _to_image(self, image) -> dict[str, Any]:
        return self.image_record(
            name=image.display_name or image.id,
            id=image.id,
            os=image.operating_system,
            version=image.operating_system_version,
            status=image.lifecycle_state,
            created=image.time_created,
        ) | {"arch": arch(image)}

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
        models = oci_sdk().core.models
        image = self.image(spec.image)
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
        instance = self._call(self.compute.get_instance, instance.id).data
        if instance.lifecycle_state in _GONE:
            raise CloudError(f"cloud '{self.cloud}': '{spec.name}' ended "
                             f"{instance.lifecycle_state} while launching",
                             "see the instance's work requests in the console")
        return self._records([instance])[0]

    def default_username_for(self, image: str) -> str:
        return image_login(self.image(image))

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
        login = image_login(image)
        # the record's username: the boot's own, else the image's login
        metadata["cms_username"] = spec.username or login
        userdata = spec.userdata
        if public_key and spec.username and spec.username != login:
            userdata = add_user(userdata, spec.username, public_key)
        if userdata:
            metadata["user_data"] = base64.b64encode(userdata.encode()).decode()
        return metadata

    def _wait_for_work(self, work_request_id: str | None, what: str) -> None:
        """Wait for an OCI work request (the kit's poll_until, bounded by
        ``work_timeout``: default.work_timeout, else WORK_TIMEOUT); a FAILED one is a CloudError with OCI's errors."""
        if not work_request_id:
            return
        client = self.work_requests

        def failed(request) -> str | None:
            if request.status not in ("FAILED", "CANCELED"):
                return None
            errors = self._all(client.list_work_request_errors, work_request_id)
            reason = "; ".join(f"{e.code}: {e.message}" for e in errors) or request.status
            return f"cloud '{self.cloud}': {what} failed: {reason}"

        poll_until(lambda: self._call(client.get_work_request, work_request_id).data,
                   lambda request: request.status == "SUCCEEDED", failed=failed,
                   timeout=self.work_timeout,
                   what=f"{what} (work request {work_request_id})",
                   interval=min(0.1, self.poll_interval), max_interval=self.poll_interval)

    def _action(self, name: str, action: str) -> dict[str, Any]:
        instance = self._find(name, live=True)
        # an action with a retry token may be sent again after a lost answer
        token = uuid.uuid4().hex
        instance = self._call(self.compute.instance_action, instance.id, action,
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
        response = self._call(self.compute.terminate_instance, instance.id,
                              preserve_boot_volume=keep)
        try:
            self._wait_for_work(response.headers.get("opc-work-request-id"),
                                f"termination of '{name}'")
        except CloudError as error:
            raise CloudError(f"{error.message} (the instance {instance.id} and its boot "
                             "volume may remain)") from error
        return self._to_vm(self._call(self.compute.get_instance, instance.id).data)

    def metadata_set(self, name: str, metadata: dict[str, str]) -> dict[str, str]:
        instance = self._find(name, live=True)
        tags = {**(instance.freeform_tags or {}), **{str(k): str(v) for k, v in
                                                      metadata.items()}}
        details = oci_sdk().core.models.UpdateInstanceDetails(freeform_tags=tags)
        updated = self._call(self.compute.update_instance, instance.id, details).data
        return dict(updated.freeform_tags or {})

    # ---- images (the catalogue and the references: images.py) and flavors -------------
    def images(self, all_builds: bool = False) -> list[dict[str, Any]]:
        """The compartment's own images and the newest build of each platform family
        (x86 and Arm builds are families of their own); ``all_builds``: every build."""
        return [self._to_image(i) for i in self._catalogue(all_builds)]

    def image(self, name: str) -> dict[str, Any]:
        """By OCID, display name or family (also what ``resolve_image`` answers)."""
        return self._to_image(self._image_object(name))

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

    # ---- health ------------------------------------------------------------------------------
    def check(self) -> str:
        shapes = self._call(self.compute.list_shapes, self.compartment, limit=100).data
        return f"region {self.region}, {len(shapes)} shapes visible"

    def regions(self) -> list[str]:
        """What ``--region=all`` spans: the tenancy's subscribed regions that are ready
        (IdentityClient.list_region_subscriptions; one unpaged list)."""
        found = self._call(self.identity.list_region_subscriptions, self.config["tenancy"]).data
        return sorted(r.region_name for r in found if r.status == "READY")

