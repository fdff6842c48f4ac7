"""Which OCI images cms shows and boots: the catalogue (the compartment's own images and
the newest build of each platform family), image references (OCID, display name or
family) and the login an image's key goes to. Mixed into ``Provider`` (compute.py),
whose ``compute`` client, ``_all``, ``_call`` and ``_to_image`` it uses; the verbs
``images``/``image`` stay in compute.py."""

from __future__ import annotations

import re
from typing import Any

from cloudmesh.compute.errors import CredentialError, NotFound

#: a platform image's display name ends with its build date: the rest is its family
BUILD = re.compile(r"-\d{4}\.\d{2}\.\d{2}-\d+$")


def arch(image) -> str:
    """x86_64 or aarch64: OCI names Arm platform builds ``...-aarch64-...``; an image
    without that mark is taken as x86_64 (OCI's Image has no architecture field)."""
    return "aarch64" if "aarch64" in (image.display_name or "").lower() else "x86_64"


def image_login(image: dict[str, Any]) -> str:
    """The login OCI gives ``ssh_authorized_keys`` to: ubuntu on Ubuntu images, opc on
    Oracle Linux and the others."""
    return "ubuntu" if "ubuntu" in str(image.get("os") or "").lower() else "opc"


class ImageCatalogue:
    """The image objects behind ``images`` and ``image``, and logins of images."""

    def _image_objects(self, **kwargs: Any) -> list:
        return self._all(self.compute.list_images, self.compartment, **kwargs)

    def _catalogue(self, all_builds: bool) -> list:
        """The compartment's own images, then the newest build of each platform family
        (x86 and Arm builds are families of their own); ``all_builds``: every build."""
        newest: dict[str, Any] = {}
        own = []
        for image in self._image_objects(lifecycle_state="AVAILABLE"):
            if image.compartment_id or all_builds:
                own.append(image)
                continue
            family = BUILD.sub("", image.display_name or image.id)
            if family not in newest or image.time_created > newest[family].time_created:
                newest[family] = image
        return own + sorted(newest.values(), key=lambda i: i.display_name or "")

    def _image_object(self, ref: str) -> Any:
        """An image by OCID, display name, or family (a display name without its build
        date, e.g. Oracle-Linux-9.4, or "Canonical Ubuntu 24.04"): the newest build."""
        if ref.startswith("ocid1.image."):
            return self._call(self.compute.get_image, ref).data
        found = self._image_objects(display_name=ref)
        if not found:
            found = [i for i in self._image_objects(lifecycle_state="AVAILABLE")
                     if ref in (BUILD.sub("", i.display_name or ""),
                                f"{i.operating_system} {i.operating_system_version}")
                     # x86 builds unless the reference names the Arm family
                     and ("aarch64" in ref) == ("aarch64" in (i.display_name or ""))]
        if not found:
            raise NotFound(f"no image '{ref}' on cloud '{self.cloud}'",
                           f"see 'cms image list --cloud={self.cloud}'")
        return max(found, key=lambda i: i.time_created)

    def _login_of_image(self, image_id: str | None) -> str:
        """The login an instance's key is for when cms did not boot it: that of its image
        (read once per image), the kind's default when the image is gone or unreadable."""
        if not image_id:
            return self.default_username
        logins = self._image_logins
        if image_id not in logins:
            try:
                logins[image_id] = image_login(self._to_image(
                    self._call(self.compute.get_image, image_id).data))
            except (NotFound, CredentialError):
                logins[image_id] = self.default_username
        return logins[image_id]
