"""cms provider for OpenStack clouds (kind ``openstack``)."""
