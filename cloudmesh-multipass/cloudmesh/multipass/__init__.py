"""cloudmesh-multipass: the ``multipass`` provider kind and the ``cms multipass`` command.

The provider drives the ``multipass`` executable (never a shell string) and reads its
``--format json`` documents; nothing here imports anything beyond the standard library.
"""

__version__ = "0.1.0"
