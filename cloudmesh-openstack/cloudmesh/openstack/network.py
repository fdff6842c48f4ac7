"""Neutron orchestration for the OpenStack provider: which network a server attaches to,
the floating IP cms allocates for it, and which floating IPs ``destroy`` may release.

A floating IP cms allocates carries the kit's marker (``cms-owner=<server id>``) in its
description. ``destroy`` releases one only when it sits on one of that server's ports AND
its marker names that server (``kit.markers.owned_by``): a description alone, which anyone
in the project can edit, never decides (issue 21, attack 6). Earlier cms versions wrote
``cms:server=<server id>``: that spelling is read too (under the same rule), never written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cloudmesh.compute.errors import CloudError, CmsError, NotFound, UsageError
from cloudmesh.compute.kit.markers import marker_text, owned_by, read_marker

if TYPE_CHECKING:  # pragma: no cover
    from cloudmesh.openstack.compute import Provider

NO_PUBLIC_IP = "boot with --no-public-ip"
#: the description earlier cms versions gave the floating IPs they allocated
LEGACY_MARK = "cms:server="


def network_names(networks: list) -> list[str]:
    return sorted(n.name or n.id for n in networks if not n.is_router_external)


def boot_network(provider: Provider, wanted: str | None, networks: list):
    """The network a server attaches to: the one named, or the project's only tenant
    network (external networks are where floating IPs come from, not where servers
    attach; shared ones count only when the project has none of its own)."""
    cloud = provider.cloud
    if wanted:
        found = [n for n in networks if wanted in (n.name, n.id)]
        if not found:
            raise NotFound(f"no network '{wanted}' on cloud '{cloud}'",
                           "choices: " + ", ".join(network_names(networks)))
        if len(found) > 1:
            raise UsageError(f"{len(found)} networks on '{cloud}' are named '{wanted}'",
                             "use the network id: " + ", ".join(n.id for n in found))
        if found[0].is_router_external:
            raise UsageError(f"network '{wanted}' is external: servers attach to a tenant "
                             "network and get a floating IP from it",
                             "choices: " + ", ".join(network_names(networks)))
        return found[0]
    tenant = [n for n in networks if not n.is_router_external]
    project = provider.connection.current_project_id
    own = [n for n in tenant if n.project_id == project] or tenant
    if len(own) == 1:
        return own[0]
    if not own:
        raise UsageError(f"the project on '{cloud}' has no tenant network",
                         "create one (openstack network create) or ask the cloud's operators")
    raise UsageError(f"the project on '{cloud}' has {len(own)} networks: "
                     + ", ".join(network_names(own)),
                     f"choose one with --network=NAME or 'cms set {cloud}.network=NAME'")


def external_network(provider: Provider, networks: list):
    external = [n for n in networks if n.is_router_external]
    if len(external) > 1:
        external = [n for n in external if n.is_default] or external
    if len(external) == 1:
        return external[0]
    if not external:
        raise UsageError(f"cloud '{provider.cloud}' has no external network for floating IPs",
                         NO_PUBLIC_IP)
    raise UsageError(f"cloud '{provider.cloud}' has several external networks ("
                     + ", ".join(sorted(n.name or n.id for n in external)) + ")",
                     f"{NO_PUBLIC_IP} and associate one yourself")


def attach_floating_ip(provider: Provider, server, network, external) -> None:
    """Allocate a floating IP on ``external`` and associate it with the server's port on
    ``network`` in one request, marked as cms's own for this server."""
    cloud, neutron = provider.cloud, provider.network
    ports = provider.listed(lambda: neutron.ports(device_id=server.id,
                                                  network_id=network.id), "ports")
    if not ports:
        raise CloudError(f"cloud '{cloud}': server {server.name} has no port on network "
                         f"{network.name}; no floating IP was allocated")
    mark = marker_text(server.id)
    try:
        neutron.create_ip(floating_network_id=external.id, port_id=ports[0].id,
                          description=mark)
    except Exception as error:
        cause = error if isinstance(error, CmsError) else provider.translate_error(error)
        if cause is None:
            raise
        # the answer may be lost after Neutron did it; never allocate a second one
        if cause.retryable and [ip for ip in provider.listed(
                lambda: neutron.ips(port_id=ports[0].id), "floating IPs")
                if marker_of(ip) == server.id]:
            return
        # not retryable: the facade would find the server and call the boot a success
        raise CloudError(f"cloud '{cloud}': server {server.name} is {server.status} but got "
                         f"no floating IP: {cause.message}",
                         f"delete it with 'cms vm delete {server.id}', or "
                         f"{NO_PUBLIC_IP}") from error


def owned_floating_ips(provider: Provider, server) -> list:
    """The floating IPs ``destroy`` releases with ``server``: on one of its ports, and
    marked by cms for it."""
    neutron = provider.network
    ports = provider.listed(lambda: neutron.ports(device_id=server.id), "ports")
    found = []
    for port in ports:
        for ip in provider.listed(lambda: neutron.ips(port_id=port.id), "floating IPs"):
            attached = ip.port_id == port.id and port.device_id == server.id
            if owned_by(marker_of(ip), server.id, attached):
                found.append(ip)
    return found


def marker_of(ip) -> str | None:
    """The server a floating IP's description names as its owner, in the kit's spelling
    or the one earlier cms versions wrote."""
    text = (ip.description or "").strip()
    legacy = text[len(LEGACY_MARK):] if text.startswith(LEGACY_MARK) else None
    return read_marker(text) or legacy or None


def release(provider: Provider, ips: list) -> list[str]:
    """Release ``ips``; what could not be released, as text for the error."""
    left = []
    for ip in ips:
        try:
            provider.call(provider.network.delete_ip, ip, ignore_missing=True)
        except CmsError as error:
            left.append(f"floating IP {ip.floating_ip_address} ({ip.id}): {error}")
    return left


def has_floating(server: Any) -> bool:
    """Nova learns of a floating IP a moment after Neutron associates it."""
    return any(e.get("OS-EXT-IPS:type") == "floating"
               for entries in (server.addresses or {}).values() for e in entries)
