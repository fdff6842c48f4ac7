"""A stateful fake of the Compute Engine API v1 for the google provider's tests
(``from fakes.google import GoogleFake``)."""

from .server import GoogleFake

__all__ = ["GoogleFake"]
