"""Marketplace images for the Azure provider: friendly aliases, URNs
(publisher:offer:sku:version, ``latest`` resolved) and the catalogue ``cms image list``
shows. Mixed into the Provider, whose ``_call``, ``compute``, ``location``, ``defaults``
and ``_to_image`` it uses."""

from __future__ import annotations

from typing import Any

from cloudmesh.compute.errors import ConfigError, NotFound

#: friendly names -> marketplace URNs (publisher:offer:sku:version), as `az vm create`
#: knows them; a cloud adds its own under default.image_aliases
IMAGE_ALIASES = {
    "ubuntu-24.04": "Canonical:ubuntu-24_04-lts:server:latest",
    "ubuntu2404": "Canonical:ubuntu-24_04-lts:server:latest",
    "ubuntu-22.04": "Canonical:0001-com-ubuntu-server-jammy:22_04-lts-gen2:latest",
    "ubuntu2204": "Canonical:0001-com-ubuntu-server-jammy:22_04-lts-gen2:latest",
    "debian-12": "Debian:debian-12:12-gen2:latest",
    "debian12": "Debian:debian-12:12-gen2:latest",
}


class MarketplaceImages:
    """``image``, ``images`` and ``resolve_image`` over the marketplace."""

    def _aliases(self) -> dict[str, str]:
        """Friendly image names: the built-in ones and default.image_aliases, a list of
        NAME=URN (e.g. ``jammy=Canonical:0001-com-ubuntu-server-jammy:22_04-lts-gen2:latest``)."""
        aliases = dict(IMAGE_ALIASES)
        extra = self.defaults.get("image_aliases") or []
        if isinstance(extra, dict):
            items = [f"{k}={v}" for k, v in extra.items()]
        else:
            items = [extra] if isinstance(extra, str) else list(extra)
        for item in items:
            for entry in str(item).split(","):
                name, sep, urn = entry.partition("=")
                if not sep or not name.strip() or urn.count(":") != 3:
                    raise ConfigError(f"cloud '{self.cloud}': default.image_aliases entry "
                                      f"'{entry.strip()}' is not NAME=publisher:offer:sku:version")
                aliases[name.strip().lower()] = urn.strip()
        return aliases

    def _versions(self, publisher: str, offer: str, sku: str, newest_only: bool) -> list:
        """The versions of one SKU with their properties (architecture), newest first."""
        options: dict[str, Any] = {"expand": "properties"}
        if newest_only:
            options.update(top=1, orderby="name desc")
        versions = self._call(self.compute.virtual_machine_images.list, self.location,
                              publisher, offer, sku, **options)
        return sorted(versions or (), key=lambda v: _version_key(v["name"]), reverse=True)

    def _latest(self, publisher: str, offer: str, sku: str) -> str:
        versions = self._versions(publisher, offer, sku, newest_only=True)
        if not versions:
            raise NotFound(f"image {publisher}:{offer}:{sku} has no versions in "
                           f"{self.location} on cloud '{self.cloud}'")
        return versions[0]["name"]

    def resolve_image(self, ref: str) -> dict[str, Any]:
        """A marketplace URN publisher:offer:sku:version (``latest`` resolved) or a
        friendly alias (ubuntu-24.04, Ubuntu2404, debian-12, default.image_aliases)."""
        urn = self._aliases().get(ref.lower(), ref)
        parts = urn.split(":")
        if len(parts) != 4 or not all(parts):
            raise NotFound(f"no image '{ref}' on cloud '{self.cloud}'",
                           "give a URN publisher:offer:sku:version or an alias: "
                           + ", ".join(sorted(self._aliases())))
        publisher, offer, sku, version = parts
        try:
            if version.lower() == "latest":
                version = self._latest(publisher, offer, sku)
            found = self._call(self.compute.virtual_machine_images.get, self.location,
                               publisher, offer, sku, version)
        except NotFound:
            raise NotFound(f"no image '{ref}' in {self.location} on cloud '{self.cloud}'",
                           f"see 'cms image list --cloud={self.cloud}'") from None
        props = found.get("properties") or {}
        os_name = (props.get("osDiskImage") or {}).get("operatingSystem")
        record = self._to_image(publisher, offer, sku, version, os_name,
                                props.get("architecture"))
        record["native"]["version"] = version
        return record

    def image(self, name: str) -> dict[str, Any]:
        return self.resolve_image(name)

    def images(self, all_builds: bool = False) -> list[dict[str, Any]]:
        """The newest version of every SKU of the configured offers (every version with
        ``all_builds``): default.image_offers (publisher:offer), else every offer of
        default.image_publishers, else the offers the aliases name. Never a crawl of the
        whole marketplace."""
        offers: list[tuple[str, str]] = []
        configured = self.defaults.get("image_offers")
        publishers = self.defaults.get("image_publishers")
        if configured:
            for item in [configured] if isinstance(configured, str) else configured:
                publisher, _, offer = str(item).partition(":")
                offers.append((publisher, offer))
        elif publishers:
            for publisher in [publishers] if isinstance(publishers, str) else publishers:
                offers += [(str(publisher), o["name"]) for o in self._call(
                    self.compute.virtual_machine_images.list_offers, self.location,
                    str(publisher))]
        else:
            offers = sorted({tuple(u.split(":")[:2]) for u in self._aliases().values()})
        records = []
        for publisher, offer in offers:
            for sku in self._call(self.compute.virtual_machine_images.list_skus,
                                  self.location, publisher, offer):
                for version in self._versions(publisher, offer, sku["name"],
                                              newest_only=not all_builds):
                    props = version.get("properties") or {}
                    records.append(self._to_image(
                        publisher, offer, sku["name"], version["name"],
                        (props.get("osDiskImage") or {}).get("operatingSystem"),
                        props.get("architecture")))
        return records


def _version_key(version: str) -> tuple:
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in version.split("."))
