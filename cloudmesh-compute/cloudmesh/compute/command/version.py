"""Show the versions of cms, Python and every installed cloudmesh distribution.

Usage:
  cms version
"""

from __future__ import annotations

from cloudmesh.compute.command import run_command


def run(argv: list[str]) -> int:
    if argv[1:] and argv[1] not in ("-h", "--help"):
        return run_command(lambda a: 0, __doc__, argv)
    if argv[1:]:
        print(__doc__.strip("\n"))
        return 0
    import platform

    from cloudmesh.compute import __version__, discovery

    rows = [("cms", __version__), ("python", platform.python_version())]
    rows += discovery.distributions()
    width = max(len(name) for name, _ in rows)
    for name, version in rows:
        print(f"{name.ljust(width)}  {version}")
    return 0
