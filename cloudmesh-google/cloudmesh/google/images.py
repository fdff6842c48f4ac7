"""Which GCE images cms shows and boots: the catalogue (the project's own images and those
of the public image projects, newest build per family) and the resolution of a user's
image reference (name, ``family/F`` or URL). Mixed into the Provider, whose ``_call``,
``_pages`` and ``project`` it uses; the verbs ``images``/``image`` stay in compute.py."""

from __future__ import annotations

import re
from typing import Any

from cloudmesh.compute.errors import CredentialError, NotFound
from cloudmesh.google import sdk
from cloudmesh.google.access import NAME_RULE

#: the public image projects listed and searched when default.image_projects is not set
DEFAULT_IMAGE_PROJECTS = ("ubuntu-os-cloud", "debian-cloud", "rocky-linux-cloud")
#: ``[https://.../compute/v1/]projects/P/global/images/[family/]N``
IMAGE_URL = re.compile(r"(?:https?://[^/]+/compute/v1/)?projects/([^/]+)/global/images/"
                       r"(family/)?([^/]+)")
#: builds a catalogue leaves out
_RETIRED = ("DEPRECATED", "OBSOLETE", "DELETED")


def utc(stamp: str) -> str:
    """A GCE timestamp (US Pacific offset) in UTC, for comparing builds across offsets."""
    from cloudmesh.compute.records import iso_utc

    return iso_utc(stamp) or ""


class ImageCatalogue:
    """The image projects, the catalogue of their images and image references."""

    def _image_projects(self) -> list[str]:
        """The project itself, then default.image_projects (a list or 'a, b'), else the
        public projects of DEFAULT_IMAGE_PROJECTS."""
        chosen = self.defaults.get("image_projects")
        if chosen is None:
            chosen = list(DEFAULT_IMAGE_PROJECTS)
        elif isinstance(chosen, str):
            chosen = [p.strip() for p in chosen.split(",") if p.strip()]
        return list(dict.fromkeys([self.project] + [str(p) for p in chosen]))

    def _catalogue(self, all_builds: bool) -> list[Any]:
        """The image objects of the image projects: newest per family (deprecated builds
        left out), as ``gcloud compute images list`` shows them; ``all_builds``: every
        image, deprecated builds included. A project cms cannot find is skipped."""
        types = sdk.types()
        chosen: dict[tuple[str, str], Any] = {}
        for project in self._image_projects():
            try:
                found = list(self._pages("images", "list",
                                         types.ListImagesRequest(project=project)))
            except NotFound:
                continue
            for image in found:
                if all_builds:
                    chosen[(project, image.name)] = image
                elif image.deprecated.state not in _RETIRED:
                    key = (project, image.family or image.name)
                    if key not in chosen or utc(image.creation_timestamp) > \
                            utc(chosen[key].creation_timestamp):
                        chosen[key] = image
        return list(chosen.values())

    def _image_object(self, ref: str) -> Any:
        """An image name (looked up in the project, then the image projects),
        ``family/F`` (the newest of family F there), or a URL
        ``[https://.../compute/v1/]projects/P/global/images/[family/]N``. A bare name
        that is no image is tried as a family too."""
        ref = str(ref).strip()
        match = IMAGE_URL.fullmatch(ref)
        if match:
            project, family, image = match.groups()
            return self._image_get(project, image, bool(family))
        family = ref.startswith("family/")
        name = ref[len("family/"):] if family else ref
        if not NAME_RULE.fullmatch(name):
            raise NotFound(f"no image '{ref}' on cloud '{self.cloud}'",
                           "give an image name, family/FAMILY or projects/P/global/images/N")
        projects = self._image_projects()
        attempts = [(p, family) for p in projects] + ([] if family else
                                                      [(p, True) for p in projects])
        for project, by_family in attempts:
            try:
                return self._image_get(project, name, by_family)
            except (NotFound, CredentialError):
                continue  # not in this project (or not readable there)
        raise NotFound(f"no image '{ref}' on cloud '{self.cloud}' (looked in "
                       f"{', '.join(projects)})", f"see 'cms image list --cloud={self.cloud}'")

    def _image_get(self, project: str, name: str, family: bool) -> Any:
        if family:
            return self._call("images", "get_from_family", project=project, family=name)
        return self._call("images", "get", project=project, image=name)
