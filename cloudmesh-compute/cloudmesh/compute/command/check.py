"""Check that the configured clouds answer with the configured credentials.

Usage:
  cms check [CLOUDS] [--output=FORMAT]

Arguments:
  CLOUDS   clouds to check, comma separated or a name expression (default: all)

Options:
  --output=FORMAT  table, json, yaml or csv [default: table]

Every cloud is checked at once; one row per cloud, with a hint for each failure. The exit
code is 0 when all pass, otherwise that of the failure (4 for credentials).
"""

from __future__ import annotations

import time

from cloudmesh.compute.command import run_command
from cloudmesh.compute.errors import worst_exit_code
from cloudmesh.compute.output import check_format, emit


def run(argv: list[str]) -> int:
    return run_command(_check, __doc__, argv)


def _check(arguments: dict) -> int:
    from cloudmesh.compute.config import Config
    from cloudmesh.compute.names import expand
    from cloudmesh.compute.provider import Provider, fan_out
    from cloudmesh.compute.state import State

    output = check_format(arguments["--output"])
    config, state = Config(), State()
    clouds = expand(arguments["CLOUDS"]) if arguments["CLOUDS"] else list(config.clouds())
    for cloud in clouds:
        config.cloud(cloud)  # unknown names are a configuration error up front

    def check_one(cloud: str) -> dict:
        started = time.monotonic()
        kind = (config.clouds()[cloud].get("cm") or {}).get("kind", "?")
        try:
            detail = Provider(cloud, config=config, state=state).check()
            return {"cloud": cloud, "kind": kind, "status": "ok", "detail": detail,
                    "seconds": round(time.monotonic() - started, 2), "exit_code": 0}
        except Exception as error:  # each failure becomes that cloud's row
            return {"cloud": cloud, "kind": kind, "status": "failed", "detail": str(error),
                    "seconds": round(time.monotonic() - started, 2),
                    "exit_code": getattr(error, "exit_code", 1), "_error": error}

    rows = [o.result for o in fan_out(check_one, clouds)]
    errors = [row.pop("_error") for row in rows if "_error" in row]
    emit(rows, output, ["cloud", "kind", "status", "seconds", "detail"])
    return worst_exit_code(errors)
