"""Glance images as cms image records, and the login each image's cloud-init creates:
the verbs the OpenStack provider inherits (kept apart so that compute.py holds the
server verbs)."""

from __future__ import annotations

import re
from typing import Any

from cloudmesh.compute.abc import record_mapper
from cloudmesh.compute.errors import NotFound

#: Glance os_distro -> the login its cloud images create
DISTRO_LOGINS = {"ubuntu": "ubuntu", "debian": "debian", "fedora": "fedora",
                 "centos": "centos", "rocky": "rocky", "almalinux": "almalinux",
                 "cirros": "cirros", "rhel": "cloud-user", "opensuse": "opensuse",
                 "sles": "sles", "arch": "arch", "freebsd": "freebsd"}
#: an OpenStack id (Nova, Glance): a reference of this form is tried as an id first
UUID = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
                  r"[0-9a-fA-F]{12}")


class ImageVerbs:
    """images, image, resolve_image_object and default_username_for over the provider's
    ``image_service`` proxy."""

    @record_mapper("image")
    def _to_image(self, image) -> dict[str, Any]:
        return self.image_record(
            name=image.name or str(image.id),
            id=str(image.id),
            os=image.os_distro or (image.properties or {}).get("os_type"),
            version=image.os_version,
            arch=image.architecture,
            status=image.status,
            created=image.created_at,
        )

    def images(self, all_builds: bool = False) -> list[dict[str, Any]]:
        """Glance's default list (public images plus the project's own and shared ones,
        active); ``all_builds`` adds the builds an operator hid (``os_hidden``), as
        clouds do with superseded ones."""
        found = self.listed(lambda: self.image_service.images(status="active"), "images")
        if all_builds:
            found += self.listed(lambda: self.image_service.images(status="active",
                                                                   os_hidden=True), "images")
        return [self._to_image(i) for i in found]

    def resolve_image_object(self, name: str):
        """The image an id or a name means (of several builds named alike, the newest)."""
        if UUID.fullmatch(name):
            try:
                return self.call(self.image_service.get_image, name)
            except NotFound:
                pass
        found = self.listed(lambda: self.image_service.images(name=name), "images")
        if not found:
            raise NotFound(f"no image '{name}' on cloud '{self.cloud}'",
                           f"see 'cms image list --cloud={self.cloud}'")
        return max(found, key=lambda i: i.created_at or "")

    def image(self, name: str) -> dict[str, Any]:
        return self._to_image(self.resolve_image_object(name))

    def default_username_for(self, image: str) -> str:
        """The login of the image's distribution (Glance's ``os_distro``): cloud images
        create ``ubuntu``, ``debian``, ``fedora``... with the key pair."""
        return login_of(self.resolve_image_object(image), self.default_username)


def login_of(image: Any, fallback: str) -> str:
    """The login an image's cloud-init creates, from Glance's ``os_distro``."""
    distro = str(getattr(image, "os_distro", None) or "").lower()
    return DISTRO_LOGINS.get(distro, fallback)
