"""Check that the configured clouds answer with the configured credentials.

Usage:
  cms check [CLOUDS] [--output=FORMAT]
  cms check --deep [CLOUDS] [--image=I] [--flavor=F] [--timeout=SECONDS] [--yes]
            [--dryrun] [--output=FORMAT]
  cms check --deep --cleanup [CLOUDS] [--timeout=SECONDS] [--yes] [--output=FORMAT]

Arguments:
  CLOUDS   clouds to check, comma separated or a name expression (default: all)

Options:
  --output=FORMAT  table, json, yaml or csv [default: table]
  --deep           boot the smallest VM with a throwaway key, reach it over SSH, run
                   'uname -a', delete it and confirm nothing is left (costs money)
  --image=I        the image for --deep (default: the cloud's default image)
  --flavor=F       the flavor for --deep (default: the cloud's, else its smallest)
  --timeout=SECONDS  bound of each cloud's --deep run; cleanup runs after it [default: 900]
  --yes            do not ask before booting (or cleaning up)
  --dryrun         say what --deep would do, without a request
  --cleanup        remove what an interrupted --deep run left (only VMs and keys that a
                   deep check marked), nothing else

Every cloud is checked at once; one row per cloud, with a hint for each failure, never
an abort of the others. A cloud with nothing set up yet (no credentials found, its tool
not installed) is "not set up"; one that is misconfigured, refuses the credentials or
cannot be reached is "failed". The exit code is 0 when every cloud is ok or, checking
all clouds, merely not set up (a fresh 'cms init' template is not broken); a cloud named
in CLOUDS must work. Otherwise it is that of the failures (4 for configuration and
credentials, not set up included, 1 for a cloud that cannot be reached; 1 when they
differ).

A deep check exits 0 only when every step passed on every cloud; its last column names what
was left behind and the command that removes each. Ctrl-C stops the steps and cleans up;
a second Ctrl-C stops the cleanup and lists what is left (exit 130).
"""

from __future__ import annotations

import time

from cloudmesh.compute.command import run_command
from cloudmesh.compute.errors import (NOT_SET_UP, CloudError, CmsError, ConfigError,
                                      worst_exit_code)
from cloudmesh.compute.output import check_format, emit


def run(argv: list[str]) -> int:
    return run_command(_check, __doc__, argv)


def _check(arguments: dict) -> int:
    from cloudmesh.compute.config import Config
    from cloudmesh.compute.names import expand
    from cloudmesh.compute.provider import Provider, fan_out
    from cloudmesh.compute.state import State

    output = check_format(arguments["--output"])
    if arguments["--deep"]:
        return _deep(arguments, output)
    config, state = Config(), State()
    # no file (unless clouds such as multipass are named), or a broken one: one error line
    configured = config.clouds() if config.exists or not arguments["CLOUDS"] else {}
    clouds = expand(arguments["CLOUDS"]) if arguments["CLOUDS"] else list(configured)
    if not clouds:
        raise ConfigError(f"{config.path} has no clouds under cloudmesh.compute",
                          "add one (see 'cms init --force' for a template)")

    # several kinds: each kind's clouds are checked in its own worker process (SDK import
    # and client set-up side by side, issue 24); one kind or the shell: here, below
    from cloudmesh.compute import workers

    elsewhere = {o.item: o for o in workers.run("check", clouds, None, {}, config, state)} \
        if workers.spans_kinds(clouds, config) else {}

    def check_one(cloud: str) -> dict:
        started = time.monotonic()
        spec = configured.get(cloud)
        cm = spec.get("cm") if isinstance(spec, dict) else None
        kind = str(cm.get("kind") or "?") if isinstance(cm, dict) else "?"
        try:
            if cloud in elsewhere:  # the worker's outcome: its detail, or its error again
                checked = elsewhere[cloud].get()
                return {"cloud": cloud, "kind": checked["kind"], "status": "ok",
                        "detail": checked["detail"], "seconds": checked["seconds"],
                        "exit_code": 0}
            config.check_cloud(cloud)  # unknown, misshapen, an unset ${VAR}: this row
            provider = Provider(cloud, config=config, state=state)
            kind = provider.kind
            detail = provider.check()
            return {"cloud": cloud, "kind": kind, "status": "ok", "detail": detail,
                    "seconds": round(time.monotonic() - started, 2), "exit_code": 0}
        except Exception as error:  # each failure becomes that cloud's row
            if not isinstance(error, CmsError):
                error = CloudError(f"cloud '{cloud}': {type(error).__name__}: {error}",
                                   "run 'cms --debug check' for the traceback and report it")
            status = "not set up" if error.code == NOT_SET_UP else "failed"
            return {"cloud": cloud, "kind": getattr(error, "kind", None) or kind,
                    "status": status, "detail": str(error),
                    "seconds": getattr(error, "seconds", None)
                    or round(time.monotonic() - started, 2),
                    "exit_code": error.exit_code, "_error": error}

    rows = [o.result for o in fan_out(check_one, clouds)]
    named = bool(arguments["CLOUDS"])  # a cloud asked for by name must work
    errors = [row.pop("_error") for row in rows if "_error" in row
              and (named or row["status"] != "not set up")]
    for row in rows:
        row.pop("_error", None)
    emit(rows, output, ["cloud", "kind", "status", "seconds", "detail"])
    return worst_exit_code(errors)


def _deep(arguments: dict, output: str) -> int:
    """cms check --deep: parse, confirm, run (cloudmesh.compute.deeprun), print."""
    from cloudmesh.compute.command import confirm, positive_seconds
    from cloudmesh.compute.config import Config
    from cloudmesh.compute.deeprun import COLUMNS, plan, run_all, sweep
    from cloudmesh.compute.errors import EXIT_INTERRUPTED, UsageError
    from cloudmesh.compute.names import expand
    from cloudmesh.compute.state import State

    timeout = positive_seconds(arguments["--timeout"], "--timeout", 900)
    for option in ("--image", "--flavor"):
        if arguments[option] is not None and not arguments[option].strip():
            raise UsageError(f"{option} is empty", f"give a value or leave {option} out")
    config, state = Config(), State()
    clouds = expand(arguments["CLOUDS"]) if arguments["CLOUDS"] else \
        list(config.clouds() if config.exists else {})
    if not clouds:
        raise ConfigError(f"{config.path} has no clouds under cloudmesh.compute",
                          "add one (see 'cms init --force' for a template)")
    if arguments["--cleanup"]:
        confirm(f"remove what interrupted deep checks left on {', '.join(clouds)}?",
                arguments["--yes"], "cleanup")
        rows, errors = sweep(clouds, config, state, timeout)
        emit(rows, output, COLUMNS)
        return worst_exit_code(errors)
    if arguments["--dryrun"]:
        emit(plan(clouds, config, state, arguments["--image"], arguments["--flavor"],
                  timeout), output, COLUMNS)
        return 0
    confirm(f"cms check --deep boots a VM on {', '.join(clouds)}: it costs money and "
            f"takes minutes. Go on?", arguments["--yes"], "check --deep")
    rows, errors, interrupted = run_all(clouds, config, state, arguments["--image"],
                                        arguments["--flavor"], timeout)
    emit(rows, output, COLUMNS)
    if interrupted:
        return EXIT_INTERRUPTED
    return worst_exit_code(errors) if errors else 0
