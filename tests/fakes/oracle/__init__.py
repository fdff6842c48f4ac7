"""A stateful fake of OCI Core Services for the oracle provider's tests."""

from fakes.oracle.fake_oci import ADS, REGION, TENANCY, OciFake, OciError  # noqa: F401
