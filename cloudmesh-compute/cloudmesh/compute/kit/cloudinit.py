"""Cloud-init ``add_user``: a login with a public key, merged into the user's user data.

One behaviour on every kind that injects keys through cloud-init:

- no user data: a ``#cloud-config`` document creating the user;
- a ``#cloud-config`` document: the user is added to its ``users:`` (after ``default``,
  which is kept so the image's own login still exists), or the key is added to an entry of
  that name;
- anything else (a shell script, ``#include``, a MIME multi-part): a MIME multi-part with
  the user's part unchanged and a ``#cloud-config`` part creating the user (cloud-init runs
  both). A kind whose service takes only cloud-config (Multipass) refuses such input before.
"""

from __future__ import annotations

from typing import Any

from cloudmesh.compute.errors import UsageError

_CLOUD_CONFIG = "#cloud-config"
#: cloud-init's start-of-text markers and the MIME type it gives each part
_PART_TYPES = (("#!", "text/x-shellscript"), ("#include", "text/x-include-url"),
               ("#cloud-boothook", "text/cloud-boothook"),
               ("#cloud-config-archive", "text/cloud-config-archive"),
               ("#part-handler", "text/part-handler"), ("#upstart-job", "text/upstart-job"),
               ("## template: jinja", "text/jinja2"))


def user_entry(username: str, public_key: str) -> dict[str, Any]:
    """The cloud-init ``users:`` entry: the key, password-less sudo, bash."""
    return {"name": username, "ssh_authorized_keys": [public_key.strip()],
            "sudo": "ALL=(ALL) NOPASSWD:ALL", "shell": "/bin/bash"}


def add_user(userdata: str | None, username: str, public_key: str) -> str:
    """User data that also creates ``username`` with ``public_key`` (the validated
    one-line key), as the module docstring says."""
    import yaml

    text = userdata or ""
    if not text.strip():
        return _dump({"users": ["default", user_entry(username, public_key)]})
    if text.lstrip().startswith(_CLOUD_CONFIG) and \
            text.lstrip().split("\n", 1)[0].strip() == _CLOUD_CONFIG:
        try:
            document = yaml.safe_load(text) or {}
        except yaml.YAMLError as error:
            raise UsageError(f"the #cloud-config user data is not valid YAML: {error}"
                             .splitlines()[0], "check it with 'cloud-init schema'") from None
        if not isinstance(document, dict):
            raise UsageError("the #cloud-config user data must be a mapping")
        document["users"] = _merged_users(document.get("users"), username, public_key)
        return _dump(document)
    return _multipart(text, _dump({"users": ["default", user_entry(username, public_key)]}))


def _merged_users(users: Any, username: str, public_key: str) -> list[Any]:
    if users is None:
        users = ["default"]
    elif isinstance(users, str):  # cloud-init also takes "default, alice"
        users = [u.strip() for u in users.split(",") if u.strip()]
    elif isinstance(users, dict):
        users = [users]
    merged = list(users)
    key = public_key.strip()
    for entry in merged:
        if isinstance(entry, dict) and entry.get("name") == username:
            keys = list(entry.get("ssh_authorized_keys") or [])
            if key not in keys:
                keys.append(key)
            entry["ssh_authorized_keys"] = keys
            return merged
    merged = [u for u in merged if u != username]  # a bare name becomes the full entry
    merged.append(user_entry(username, public_key))
    return merged


def _dump(document: dict[str, Any]) -> str:
    import yaml

    return _CLOUD_CONFIG + "\n" + yaml.safe_dump(document, sort_keys=False)


def _multipart(original: str, cloud_config: str) -> str:
    from email import message_from_string
    from email.mime.multipart import MIMEMultipart
    from email.mime.text import MIMEText

    part = MIMEText(cloud_config, "cloud-config", _charset(cloud_config))
    part.add_header("Content-Disposition", "attachment", filename="cms-user.cfg")
    head = original.lstrip()[:200].lower()
    if head.startswith("content-type:") or head.startswith("mime-version:"):
        message = message_from_string(original)
        if message.is_multipart():
            message.attach(part)
            return message.as_string()
    combined = MIMEMultipart()
    subtype = next((kind for start, kind in _PART_TYPES
                    if original.lstrip().startswith(start)), "text/plain").split("/", 1)[1]
    user_part = MIMEText(original, subtype, _charset(original))
    user_part.add_header("Content-Disposition", "attachment", filename="user-data")
    combined.attach(user_part)
    combined.attach(part)
    return combined.as_string()


def _charset(text: str) -> str:
    # ASCII parts stay readable (7bit) in the multi-part; others are base64 UTF-8
    return "us-ascii" if text.isascii() else "utf-8"
