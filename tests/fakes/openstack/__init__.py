"""A stateful fake of Keystone v3, Nova v2.1, Glance v2 and Neutron v2.0 on 127.0.0.1
(see server.py for the API reference it follows)."""

from fakes.openstack.server import FakeOpenStack, NO_VALID_HOST

__all__ = ["FakeOpenStack", "NO_VALID_HOST"]
