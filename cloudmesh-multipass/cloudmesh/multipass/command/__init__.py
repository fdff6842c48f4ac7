"""Command modules of cloudmesh-multipass (``cms multipass``)."""
