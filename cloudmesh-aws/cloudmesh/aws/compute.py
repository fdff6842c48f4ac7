"""Amazon EC2 provider (kind ``aws``), over boto3.

It maps EC2 objects to cms records and does nothing else. A VM's name is its ``Name``
tag; an instance id (``i-...``) works wherever a name does. What every provider needs
(finding one VM, paging, deadlines, the origin rule, error classes) comes from
``cloudmesh.compute.kit``; this file is the model a new provider copies.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from cloudmesh.compute.abc import ComputeNodeABC, record_mapper
from cloudmesh.compute.boot import BootSpec
from cloudmesh.compute.endpoints import check_endpoint
from cloudmesh.compute.errors import (CloudError, CmsError, ConfigError, CredentialError,
                                      NotFound, UsageError)
from cloudmesh.compute.errors import NOT_SET_UP
from cloudmesh.compute.kit.clients import client_on_first_use
from cloudmesh.compute.kit.deadline import bounded
from cloudmesh.compute.kit.finding import find_one, live
from cloudmesh.compute.kit.http import classify_http
from cloudmesh.compute.kit import paging
from cloudmesh.compute.lazy import require
from cloudmesh.compute.secgroups import by_port_range, rules_per_cidr


#: EC2 instance state -> cms status
NODE_STATE_MAP = {
    "pending": "booting",
    "running": "running",
    "stopping": "stopping",
    "stopped": "stopped",
    "shutting-down": "deleting",
    "terminated": "terminated",
}
#: the tag that remembers the login a VM's key is for (set at boot)
USER_TAG = "cms-user"
_AUTH_CODES = {"AuthFailure", "UnauthorizedOperation", "InvalidClientTokenId",
               "SignatureDoesNotMatch", "ExpiredToken", "RequestExpired", "OptInRequired",
               "UnrecognizedClientException", "InvalidToken"}
_THROTTLING_CODES = {"RequestLimitExceeded", "Throttling", "ThrottlingException",
                     "RequestThrottled", "ServiceUnavailable",
                     "Unavailable", "InternalError"}
_SESSIONS: dict = {}  # (profile, _SESSION_ENV values) -> boto3 Session
_SESSION_ENV = ("HOME", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_PROFILE",
                "AWS_DEFAULT_REGION", "AWS_REGION")
_SESSION_LOCK = threading.Lock()
_LOADERS: dict = {}  # (data_path, ~/.aws/models if a folder) -> botocore data loader


def _share_data_loader(session: Any) -> None:
    """Give a new session the data loader (EC2's service model, parsed: 0.3 s of CPU) of
    an earlier one whose model folders are the same: a session per HOME (see
    _make_client) would otherwise parse it again for each."""
    models = os.path.expanduser(os.path.join("~", ".aws", "models"))
    # data_path: AWS_DATA_PATH or the profile's data_path, as botocore's loader reads it
    where = (session._session.get_config_variable("data_path"),
             models if os.path.isdir(models) else None)
    loader = _LOADERS.get(where)
    if loader is None:
        _LOADERS[where] = session._session.get_component("data_loader")
    else:
        session._session.register_component("data_loader", loader)


class Provider(ComputeNodeABC):
    kind = "aws"
    credential_keys = ("region", "profile", "access_key_id", "secret_access_key",
                       "session_token", "endpoint_url")
    #: default: keys beyond the common ones (cloudmesh.compute.settings)
    settings = {"image_owners": list}
    unsupported = {
        "suspend": "EC2 hibernates only instances launched with hibernation enabled; "
                   "use 'cms vm stop'",
        "resume": "EC2 hibernates only instances launched with hibernation enabled; "
                  "use 'cms vm start'",
    }

    key_delivery = "keypair"
    default_username = "ubuntu"

    # ---- client ----------------------------------------------------------------------
    @client_on_first_use
    def client(self):
        """The EC2 client, made on first use (the session reads ~/.aws lazily too). It
        retries throttling, 5xx and dropped connections with backoff (botocore's standard
        mode), which is safe for every call but RunInstances: see create_client."""
        return self._make_client(self.retries + 1)

    @client_on_first_use
    def create_client(self):
        """A client that never retries, for RunInstances: a lost answer must not boot a
        second VM (the facade looks whether the VM exists before trying again)."""
        return self._make_client(1)

    def _make_client(self, attempts: int):
        creds = self.credentials
        # access keys, when given, win over a profile
        keys = {f"aws_{key}": creds.get(key) for key in ("access_key_id", "secret_access_key",
                                                          "session_token")}
        keys = keys if keys["aws_access_key_id"] else {}
        profile = None if keys else creds.get("profile")
        boto3 = require("boto3", "cloudmesh-aws")
        config = require("botocore.config", "cloudmesh-aws", "boto3").Config(
            retries={"mode": "standard", "total_max_attempts": attempts},
            connect_timeout=min(10.0, self.timeout), read_timeout=self.timeout)
        try:
            # Clients come from one Session per profile for the whole process: each new
            # Session parses EC2's service model again (110 ms), and several clouds
            # listed at once would queue on the GIL doing it. Sessions are not
            # thread-safe, so clients are made under a lock.
            with _SESSION_LOCK:
                # the vendor files a session read depend on the environment, which
                # differs between calls made in one process (the cms> shell, tests)
                where = (profile, *(os.environ.get(name) for name in _SESSION_ENV))
                session = _SESSIONS.get(where)
                if session is None:
                    session = _SESSIONS[where] = boto3.session.Session(profile_name=profile)
                    _share_data_loader(session)
                    from cloudmesh.aws.imds import skip_if_not_ec2

                    skip_if_not_ec2(session)  # 'no credentials' at once off EC2 (imds.py)
                client = session.client("ec2", region_name=creds.get("region"),
                                        endpoint_url=creds.get("endpoint_url") or None,
                                        config=config, **keys)
        except Exception as error:
            raise self.translate_error(error) or error from None
        if not creds.get("endpoint_url"):
            # an endpoint_url from ~/.aws/config or AWS_ENDPOINT_URL* passes the same check
            check_endpoint(client.meta.endpoint_url,
                           f"cloud '{self.cloud}': the EC2 endpoint of the AWS configuration "
                           "(~/.aws/config or AWS_ENDPOINT_URL)")
        # the endpoint configured, or the region's own: the only origin signed requests go to
        self.guard.allow(client.meta.endpoint_url)
        http = client._endpoint.http_session  # botocore's own sender (pool, proxies, TLS)
        client.meta.events.register("before-send.ec2",
                                    lambda request, **_: self._send(http, request))
        return client

    def _send(self, http: Any, request: Any) -> Any:
        """Send one HTTP request of botocore's: to the allowed origin only (refused before
        a byte is sent), and within cm.timeout as a whole, slow reads included (a read
        timeout alone lets a server drip a byte a second). A late answer is botocore's
        ReadTimeoutError, which its retries (cm.retries) and translate_error know."""
        self.guard.check(request.url)
        try:
            return bounded(lambda: http.send(request), self.timeout, "EC2")
        except CloudError as late:
            if late.code != "deadline":
                raise
            exc = require("botocore.exceptions", "cloudmesh-aws", "boto3")
            raise exc.ReadTimeoutError(endpoint_url=request.url) from None

    def _call(self, operation: str, client: Any = None, **kwargs: Any) -> Any:
        """One EC2 call; its error comes out as a CmsError with EC2's code. Each request
        is bounded by cm.timeout (see _send); so is the call as a whole, retries included,
        in case something outside a request hangs."""
        method = getattr(client or self.client, operation)
        return self.translated(bounded, lambda: method(**kwargs), self._call_seconds(),
                               f"cloud '{self.cloud}' (EC2 {operation})")

    def _call_seconds(self) -> float:
        # every attempt's cm.timeout, botocore's standard backoff (1, 2, 4 ... s, <= 20)
        # and a second, so that a late request ends as _send says, not here
        return self.timeout * (self.retries + 1) + sum(min(20, 2 ** n)
                                                      for n in range(self.retries)) + 1

    def _paged(self, operation: str, key: str, **kwargs: Any) -> list[dict]:
        """Every item of a paged EC2 call, through boto3's paginator. cm.timeout bounds
        each page's request, not the list (a large account may take longer in all); the
        list stops on a repeated NextToken and at the kit's page limit."""
        iterator = iter(self.client.get_paginator(operation).paginate(**kwargs))
        what = f"cloud '{self.cloud}': EC2 {operation}"

        def fetch(token: str | None) -> tuple[list[dict], str | None]:
            page = bounded(lambda: next(iterator, None), self._call_seconds(), what) or {}
            return page.get(key, ()), page.get("NextToken")

        # the limit read when the list starts, so that a test can lower it
        return list(paging.pages(fetch, what=what, max_pages=paging.MAX_PAGES))

    def translate_error(self, error: Exception) -> CmsError | None:
        exc = require("botocore.exceptions", "cloudmesh-aws", "boto3")
        where = f"cloud '{self.cloud}'"
        if isinstance(error, exc.ProfileNotFound):
            return CredentialError(f"{where}: the AWS profile '{self.credentials.get('profile')}' "
                                   "is not in ~/.aws/config or ~/.aws/credentials",
                                   "fix credentials.profile or run 'aws configure'")
        if isinstance(error, (exc.NoCredentialsError, exc.PartialCredentialsError)):
            return CredentialError(f"{where}: no AWS credentials found",
                                   "set credentials.access_key_id and secret_access_key "
                                   "(as ${ENV} references) or a profile in ~/.aws/credentials",
                                   code=NOT_SET_UP)
        if isinstance(error, exc.NoRegionError):
            return ConfigError(f"{where}: no AWS region", "set credentials.region")
        if isinstance(error, (exc.ReadTimeoutError, exc.ConnectTimeoutError)):
            return CloudError(f"{where}: EC2 did not answer within {self.timeout:g}s "
                              f"({self.retries + 1} attempts)", "raise cm.timeout or try later",
                              retryable=True)
        if isinstance(error, (exc.EndpointConnectionError, exc.ConnectionClosedError)):
            return CloudError(f"{where}: cannot reach EC2: {error}", retryable=True)
        if isinstance(error, exc.ClientError):
            info = error.response.get("Error", {})
            code, message = info.get("Code", "Unknown"), info.get("Message", "")
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            # EC2 answers 400 for most errors: its code says more than the status
            if code in _AUTH_CODES:
                status = 403
            elif code.endswith(".NotFound") or code.endswith("NotFoundException"):
                status = 404
            elif code in _THROTTLING_CODES:
                status = 503 if not status or status < 500 else status
            return classify_http(status, code, f"EC2 {code}: {message}".rstrip(": "),
                                 cloud=self.cloud)
        if isinstance(error, exc.BotoCoreError):
            return CloudError(f"{where}: {error}")
        return None

    # ---- mappers ---------------------------------------------------------------------
    @record_mapper("instance")
    def _to_vm(self, instance: dict) -> dict[str, Any]:
        tags = {t["Key"]: t["Value"] for t in instance.get("Tags") or ()}
        state = instance.get("State", {}).get("Name", "unknown")
        addresses = [a for i in instance.get("NetworkInterfaces") or ()
                     for a in i.get("PrivateIpAddresses") or ()]
        # the instance's own fields when it has no interfaces listed (EC2-Classic answers)
        private = [a.get("PrivateIpAddress") for a in addresses] or [
            instance.get("PrivateIpAddress")]
        public = [(a.get("Association") or {}).get("PublicIp") for a in addresses]
        public = public if any(public) else [instance.get("PublicIpAddress")]
        zone = (instance.get("Placement") or {}).get("AvailabilityZone")
        return self.vm_record(
            name=tags.pop("Name", None) or instance["InstanceId"],
            id=instance["InstanceId"],
            status=NODE_STATE_MAP.get(state, "unknown"),
            state=state,
            image=instance.get("ImageId"),
            flavor=instance.get("InstanceType"),
            public_ips=[ip for ip in public if ip],
            private_ips=[ip for ip in private if ip],
            key=instance.get("KeyName"),
            username=tags.pop(USER_TAG, None) or self.default_username,
            secgroups=[g.get("GroupName") for g in instance.get("SecurityGroups") or
                       [g for i in instance.get("NetworkInterfaces") or ()
                        for g in i.get("Groups") or ()]],
            region=self.credentials.get("region") or (zone[:-1] if zone else None),
            zone=zone,
            created=instance.get("LaunchTime"),
            metadata=tags,
        )

    @record_mapper("image")
    def _to_image(self, image: dict) -> dict[str, Any]:
        return self.image_record(
            name=image.get("Name") or image["ImageId"],
            id=image["ImageId"],
            os=image.get("PlatformDetails") or image.get("Platform") or "Linux/UNIX",
            version=image.get("Description"),
            arch=image.get("Architecture"),
            status=image.get("State"),
            created=image.get("CreationDate"),
            native={"root_device": image.get("RootDeviceName")},
        )

    @record_mapper("instance type")
    def _to_flavor(self, instance_type: dict) -> dict[str, Any]:
        return self.flavor_record(
            name=instance_type["InstanceType"],
            id=instance_type["InstanceType"],
            vcpus=(instance_type.get("VCpuInfo") or {}).get("DefaultVCpus"),
            ram_mb=(instance_type.get("MemoryInfo") or {}).get("SizeInMiB"),
            disk_gb=(instance_type.get("InstanceStorageInfo") or {}).get("TotalSizeInGB", 0),
        )

    # ---- VMs -------------------------------------------------------------------------
    def _instances(self, **kwargs: Any) -> list[dict]:
        return [instance for reservation in self._paged("describe_instances",
                                                         "Reservations", **kwargs)
                for instance in reservation.get("Instances", ())]

    def _candidates(self, ref: str) -> list[dict[str, Any]]:
        """The records that may be ``ref``: those of that Name tag, and of that id."""
        found = self._instances(Filters=[{"Name": "tag:Name", "Values": [ref]}])
        if ref.startswith("i-"):
            found += self._instances(Filters=[{"Name": "instance-id", "Values": [ref]}])
        return [self._to_vm(i) for i in found]

    def _find(self, ref: str) -> dict[str, Any]:
        """The one live VM ``ref`` names (its id, else its exact Name tag)."""
        return find_one(self._candidates(ref), ref, cloud=self.cloud)

    def _by_id(self, instance_id: str) -> dict[str, Any]:
        return self._to_vm(self._instances(InstanceIds=[instance_id])[0])

    def list(self) -> list[dict[str, Any]]:
        return [self._to_vm(i) for i in self._instances()]

    def info(self, name: str) -> dict[str, Any]:
        candidates = self._candidates(name)
        # an id names one instance for good: show it terminated rather than not found
        by_id = [r for r in candidates if r["id"] == name]
        return by_id[0] if by_id and not live(by_id) else find_one(candidates, name,
                                                                   cloud=self.cloud)

    def create(self, spec: BootSpec) -> dict[str, Any]:
        image = self.resolve_image(spec.image)
        tags = [{"Key": "Name", "Value": spec.name}]
        if spec.username:
            tags.append({"Key": USER_TAG, "Value": spec.username})
        tags += [{"Key": str(k), "Value": str(v)} for k, v in spec.metadata.items()]
        request: dict[str, Any] = {
            "ImageId": image["id"], "InstanceType": self.flavor(spec.flavor)["id"],
            "MinCount": 1, "MaxCount": 1,
            "TagSpecifications": [{"ResourceType": "instance", "Tags": tags}],
            # the spec's token is the same on every retry of this boot: EC2 answers a
            # repeated request with the instance the first one made
            "ClientToken": spec.token,
        }
        groups = [g if g.startswith("sg-") else self._group(g)["GroupId"]
                  for g in spec.secgroups]
        subnet = self._subnet(spec.network, spec.subnet, spec.zone)
        if subnet or not spec.public_ip:
            # an explicit interface says whether the VM gets a public address; without it
            # the subnet decides (the default VPC's subnets give one)
            request["NetworkInterfaces"] = [{
                "DeviceIndex": 0, "AssociatePublicIpAddress": spec.public_ip,
                **({"SubnetId": subnet} if subnet else {}),
                **({"Groups": groups} if groups else {})}]
        elif groups:
            request["SecurityGroupIds"] = groups
        if spec.key:
            request["KeyName"] = spec.key["name"]
        if spec.userdata:
            request["UserData"] = spec.userdata
        zone = spec.zone or self.defaults.get("zone")
        if zone and not subnet:
            request["Placement"] = {"AvailabilityZone": str(zone)}
        if spec.disk_gb:
            root = (image.get("native") or {}).get("root_device") or "/dev/sda1"
            request["BlockDeviceMappings"] = [{"DeviceName": root, "Ebs": {
                "VolumeSize": spec.disk_gb, "DeleteOnTermination": True}}]
        response = self._call("run_instances", self.create_client, **request)
        return self._to_vm(response["Instances"][0])

    def _subnet(self, network: str | None, subnet: str | None,
                zone: str | None) -> str | None:
        """The subnet to boot in: the one named (id or Name tag), else the only subnet of
        the named VPC (in the zone, if one is given); None: EC2's default VPC."""
        if subnet:
            return self._one("describe_subnets", "subnet", subnet)["SubnetId"]
        if not network:
            return None
        filters = [{"Name": "vpc-id", "Values": [self._one("describe_vpcs", "vpc",
                                                           network)["VpcId"]]}]
        if zone:
            filters.append({"Name": "availability-zone", "Values": [zone]})
        subnets = self._call("describe_subnets", Filters=filters)["Subnets"]
        if len(subnets) != 1:
            choices = ", ".join(sorted(s["SubnetId"] for s in subnets)) or "none"
            raise UsageError(f"network '{network}' on cloud '{self.cloud}' has "
                             f"{len(subnets)} subnets ({choices})",
                             "choose one with --subnet")
        return subnets[0]["SubnetId"]

    def _one(self, operation: str, kind: str, ref: str) -> dict[str, Any]:
        """The one subnet or VPC (``kind``) whose id or Name tag is ``ref``."""
        key = f"{kind}-id" if ref.startswith(f"{kind}-") else "tag:Name"
        found = self._call(operation, Filters=[{"Name": key, "Values": [ref]}])
        found = found["Subnets" if kind == "subnet" else "Vpcs"]
        if len(found) != 1:
            raise (NotFound if not found else UsageError)(
                f"{len(found) or 'no'} {kind}s on cloud '{self.cloud}' match '{ref}'",
                f"give the {kind} id ({kind}-...)")
        return found[0]

    def _act(self, operation: str, name: str) -> dict[str, Any]:
        instance_id = self._find(name)["id"]
        self._call(operation, InstanceIds=[instance_id])
        return self._by_id(instance_id)

    def start(self, name: str) -> dict[str, Any]:
        return self._act("start_instances", name)

    def stop(self, name: str) -> dict[str, Any]:
        return self._act("stop_instances", name)

    def reboot(self, name: str) -> dict[str, Any]:
        return self._act("reboot_instances", name)

    def destroy(self, name: str) -> dict[str, Any]:
        # EBS root volumes booted by cms are DeleteOnTermination (EC2's default for AMIs'
        # root devices, and what create asks for with --disk): nothing else to clean up
        return self._act("terminate_instances", name)

    def metadata_set(self, name: str, metadata: dict[str, str]) -> dict[str, str]:
        instance_id = self._find(name)["id"]
        if "Name" in metadata or USER_TAG in metadata:
            raise UsageError(f"the metadata keys 'Name' and '{USER_TAG}' are the VM's name "
                             "and login; they cannot be set")
        self._call("create_tags", Resources=[instance_id],
                   Tags=[{"Key": str(k), "Value": str(v)} for k, v in metadata.items()])
        return self.metadata_get(instance_id)

    # ---- images and flavors ----------------------------------------------------------
    def images(self) -> list[dict[str, Any]]:
        owners = self.defaults.get("image_owners") or ["self", "amazon"]
        owners = [owners] if isinstance(owners, str) else [str(o) for o in owners]
        found = self._paged("describe_images", "Images", Owners=owners,
                            Filters=[{"Name": "state", "Values": ["available"]}])
        return [self._to_image(i) for i in found]

    def image(self, name: str) -> dict[str, Any]:
        """An image by id (ami-...) or by name (the newest of that name)."""
        if name.startswith("ami-"):
            found = self._call("describe_images", ImageIds=[name])["Images"]
        else:
            found = self._call("describe_images",
                               Filters=[{"Name": "name", "Values": [name]}])["Images"]
        newest = sorted(found, key=lambda i: i.get("CreationDate", ""), reverse=True)
        return self._find_in([self._to_image(i) for i in newest[:1]], name, "image")

    def flavors(self) -> list[dict[str, Any]]:
        return sorted((self._to_flavor(t) for t in
                       self._paged("describe_instance_types", "InstanceTypes")),
                      key=lambda f: f["name"])

    def flavor(self, name: str) -> dict[str, Any]:
        try:
            found = self._call("describe_instance_types", InstanceTypes=[name])["InstanceTypes"]
        except CmsError as error:
            if error.code not in ("InvalidInstanceType", "InvalidParameterValue"):
                raise
            found = []
        return self._find_in([self._to_flavor(t) for t in found], name, "flavor")

    # ---- key pairs -------------------------------------------------------------------
    @record_mapper("key pair")
    def _to_key(self, pair: dict) -> dict[str, Any]:
        from cloudmesh.compute.keys import fingerprint_or

        print_ = fingerprint_or(pair.get("PublicKey"), pair.get("KeyFingerprint"))
        return self.key_record(name=pair["KeyName"], fingerprint=print_,
                               native={"id": pair.get("KeyPairId"),
                                       "ec2_fingerprint": pair.get("KeyFingerprint")})

    def keys(self) -> list[dict[str, Any]]:
        pairs = self._call("describe_key_pairs", IncludePublicKey=True)["KeyPairs"]
        return sorted((self._to_key(p) for p in pairs), key=lambda k: k["name"])

    def key_upload(self, name: str, public_key: str) -> dict[str, Any]:
        self._call("import_key_pair", KeyName=name, PublicKeyMaterial=public_key.encode())
        pair = self._call("describe_key_pairs", KeyNames=[name], IncludePublicKey=True)
        return self._to_key(pair["KeyPairs"][0])

    def key_delete(self, name: str) -> None:
        self._find_in(self.keys(), name, "key")  # EC2 answers success for a name it lacks
        self._call("delete_key_pair", KeyName=name)

    # ---- security groups -------------------------------------------------------------
    @staticmethod
    def _to_rules(permissions: list[dict], direction: str) -> list[dict[str, Any]]:
        return [rule for p in permissions for rule in rules_per_cidr(
            direction, {"-1": "all"}.get(p.get("IpProtocol"), p.get("IpProtocol")),
            p.get("FromPort"), p.get("ToPort"),
            [r["CidrIp"] for r in p.get("IpRanges") or ()]
            + [r["CidrIpv6"] for r in p.get("Ipv6Ranges") or ()])]

    @record_mapper("security group")
    def _to_secgroup(self, group: dict) -> dict[str, Any]:
        return self.secgroup_record(
            name=group["GroupName"], id=group["GroupId"], description=group.get("Description"),
            rules=self._to_rules(group.get("IpPermissions") or [], "ingress")
            + self._to_rules(group.get("IpPermissionsEgress") or [], "egress"),
            native={"vpc_id": group.get("VpcId")})

    @staticmethod
    def _to_permissions(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """EC2 permissions: one per protocol and port range with all its CIDRs ('all' has
        no ports; icmp's -1 is every type and code)."""
        permissions = []
        for (_, protocol, low, high), cidrs in by_port_range(rules).items():
            ports = {} if protocol == "all" else {"FromPort": -1 if low is None else low,
                                                  "ToPort": -1 if high is None else high}
            permissions.append({"IpProtocol": "-1" if protocol == "all" else protocol, **ports,
                                "IpRanges": [{"CidrIp": c} for c in cidrs if ":" not in c],
                                "Ipv6Ranges": [{"CidrIpv6": c} for c in cidrs if ":" in c]})
        return permissions

    def _group(self, name: str) -> dict:
        found = self._call("describe_security_groups",
                           Filters=[{"Name": "group-name", "Values": [name]}])["SecurityGroups"]
        if not found:
            raise NotFound(f"no security group '{name}' on cloud '{self.cloud}'",
                           f"see 'cms secgroup list --cloud={self.cloud}'")
        return found[0]

    def secgroups(self) -> list[dict[str, Any]]:
        return sorted((self._to_secgroup(g) for g in
                       self._paged("describe_security_groups", "SecurityGroups")),
                      key=lambda g: g["name"])

    def secgroup_create(self, name: str, description: str) -> dict[str, Any]:
        created = self._call("create_security_group", GroupName=name, Description=description)
        return self._to_secgroup(self._call("describe_security_groups",
                                            GroupIds=[created["GroupId"]])["SecurityGroups"][0])

    def secgroup_add_rules(self, name: str, rules: list[dict[str, Any]]) -> None:
        self._change_rules(name, rules, "authorize")

    def secgroup_remove_rules(self, name: str, rules: list[dict[str, Any]]) -> None:
        self._change_rules(name, rules, "revoke")

    def _change_rules(self, name: str, rules: list[dict[str, Any]], verb: str) -> None:
        group_id = self._group(name)["GroupId"]
        for direction in ("ingress", "egress"):
            chosen = [r for r in rules if r.get("direction", "ingress") == direction]
            if chosen:
                self._call(f"{verb}_security_group_{direction}", GroupId=group_id,
                           IpPermissions=self._to_permissions(chosen))

    def secgroup_delete(self, name: str) -> None:
        self._call("delete_security_group", GroupId=self._group(name)["GroupId"])

    def regions(self) -> list[str]:
        """The regions this account can use (EC2 DescribeRegions: enabled and opted in)."""
        answer = self._call("describe_regions")
        return sorted(r["RegionName"] for r in answer.get("Regions") or []
                      if r.get("OptInStatus") in (None, "opt-in-not-required", "opted-in"))

    def check(self) -> str:
        zones = self._call("describe_availability_zones")["AvailabilityZones"]
        return f"region {self.client.meta.region_name}, {len(zones)} availability zones"
