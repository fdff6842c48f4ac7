"""Lists over many clouds and regions at once, each kind in its own worker process.

A list (``vm``, ``image``, ``flavor``, ``key``, ``secgroup``) or ``check`` over clouds is
one task per (cloud, region), run on the fan-out's threads. When the clouds span several
kinds, each kind's share runs in a child (``python -m cloudmesh.compute.workers``): SDK
import, client set-up and parsing of six SDKs in one interpreter share one lock, in six
processes they run side by side (issue 24). The child streams its outcomes back as JSON
lines; the parent prints warnings as they come and turns errors back into the same
CmsError classes, so exit codes and messages are those of the in-process path. One kind,
a run inside the ``cms>`` shell (which holds the clients), or ``CMS_IN_PROCESS=1`` stays
in this process.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Callable

from cloudmesh.compute import errors
from cloudmesh.compute.fanout import Outcome, fan_out
from cloudmesh.compute.regions import EVERYWHERE, region_key

#: what a task lists on one (cloud, region): the facade's method and its arguments
TASKS = ("vm", "image", "flavor", "key", "secgroup", "check")


def target_clouds(option: str | None, config, state) -> list[str]:
    """``--cloud=a,b`` (an expression), ``--cloud=all`` (every configured cloud, unless a
    cloud is named 'all'), else the default cloud."""
    from cloudmesh.compute.config import resolve_cloud
    from cloudmesh.compute.names import expand

    if option == "all" and not (config.exists and "all" in config.clouds()):
        clouds = list(config.clouds()) if config.exists else []
        if not clouds:
            raise errors.ConfigError(f"--cloud=all: {config.path} has no clouds under "
                                     "cloudmesh.compute", "add one (see 'cms init')")
        return clouds
    return expand(option) if option else [resolve_cloud(None, config, state)]


def _kind_of(cloud: str, config) -> str:
    """The cloud's kind from its entry, without importing the kind ('?': unknown, the
    error is reported when its provider is opened)."""
    try:
        if config.exists and cloud in config.clouds():
            cm = config.cloud(cloud).get("cm") or {}
            return str(cm.get("kind") or "?") if isinstance(cm, dict) else "?"
    except errors.CmsError:
        return "?"
    return cloud  # a zero-config kind is named after itself (multipass)


def _label(cloud: str, region: str | None) -> str:
    return cloud if region in (None, EVERYWHERE) else f"{cloud} region {region}"


def _one(task: str, provider, options: dict[str, Any]) -> Any:
    """The task on one opened facade: its records (a list), or check's detail text."""
    if task == "vm":
        records = provider.list(options.get("names"))
        for record in records:  # every record says its region
            if record.get("region") in (None, "") and provider.region not in (None, EVERYWHERE):
                record["region"] = provider.region
        return records
    if task == "image":
        return provider.images(all_builds=bool(options.get("all_builds")))
    return getattr(provider, {"flavor": "flavors", "key": "keys",
                              "secgroup": "secgroups"}[task])()


def _regions_of(provider, wanted: list[str] | None) -> list[str | None]:
    """The regions to visit on a cloud: none asked -> its configured one; R1,R2; 'all'
    -> its ``regions:`` list, else what the account can use (the provider's
    ``regions()``), else its one region."""
    if wanted is None or region_key(provider.kind, type(provider.provider)) is None:
        return [None]  # a kind without regions: its one list spans them (google, multipass)
    if wanted != ["all"]:
        return list(wanted)
    listed = provider.config.regions(provider.name)
    if listed:
        return listed
    if callable(getattr(provider.provider, "regions", None)):
        return list(provider.call("regions")) or [None]
    return [None]


def _check(cloud: str, config, state, kwargs: dict[str, Any]) -> dict[str, Any]:
    """``cms check`` of one cloud: its kind, the check's detail and the seconds it took.
    A failure is raised with ``seconds`` (and ``kind`` once known) set on it, which the
    error event carries across the process boundary."""
    import time

    from cloudmesh.compute.provider import Provider

    started, kind = time.monotonic(), None
    try:
        config.check_cloud(cloud)  # unknown, misshapen, an unset ${VAR}: this cloud's row
        provider = Provider(cloud, config=config, state=state, **kwargs)
        kind = provider.kind
        return {"kind": kind, "detail": provider.check(),
                "seconds": round(time.monotonic() - started, 2)}
    except Exception as error:  # noqa: BLE001 - each failure becomes that cloud's row
        if not isinstance(error, errors.CmsError):  # worded as cms check words it
            error = errors.CloudError(
                f"cloud '{cloud}': {type(error).__name__}: {error}",
                "run 'cms --debug check' for the traceback and report it")
        error.seconds = round(time.monotonic() - started, 2)
        if kind is not None:
            error.kind = kind
        raise error


def spans_kinds(clouds: list[str], config) -> bool:
    """Whether a command over ``clouds`` runs in worker processes: several kinds, outside
    the ``cms>`` shell, without ``CMS_IN_PROCESS=1``."""
    from cloudmesh.compute.session import current_session

    return len({_kind_of(cloud, config) for cloud in clouds}) > 1 and \
        current_session() is None and os.environ.get("CMS_IN_PROCESS") != "1"


def run_here(task: str, clouds: list[str], regions: list[str] | None,
             options: dict[str, Any], config, state,
             warn: Callable[[str], None] | None = None) -> list[Outcome]:
    """The task over every (cloud, region) in this process: one Outcome per pair (the
    item names the cloud, and the region when one was chosen)."""
    from cloudmesh.compute.provider import Provider

    kwargs = {"warn": warn} if warn else {}
    if task == "check":  # one outcome per cloud, timed from its provider's set-up
        return fan_out(lambda cloud: _check(cloud, config, state, kwargs), clouds)

    def expand_cloud(cloud: str) -> list[tuple[str, str | None, Any]]:
        provider = Provider(cloud, config=config, state=state, **kwargs)
        found = _regions_of(provider, regions)
        return [(cloud, r, provider if r is None else None) for r in found]

    opened = fan_out(expand_cloud, clouds)
    targets: list[tuple[str, str | None, Any]] = []
    outcomes: dict[str, Outcome] = {}
    for outcome in opened:
        if outcome.ok:
            targets += outcome.result
        else:
            outcomes[outcome.item] = outcome

    def work(label: str) -> Any:
        cloud, region, provider = by_label[label]
        if provider is None:
            provider = Provider(cloud, config=config, state=state, region=region, **kwargs)
        return _one(task, provider, options)

    by_label = {_label(c, r): (c, r, p) for c, r, p in targets}
    for outcome in fan_out(work, list(by_label)):
        outcomes[outcome.item] = outcome
    order = []
    for outcome in opened:
        order += [_label(c, r) for c, r, _ in outcome.result] if outcome.ok else [outcome.item]
    return [outcomes[label] for label in order]


def run(task: str, clouds: list[str], regions: list[str] | None, options: dict[str, Any],
        config, state, warn: Callable[[str], None] | None = None) -> list[Outcome]:
    """The task over every (cloud, region): in this process for one kind, in the shell or
    with ``CMS_IN_PROCESS=1``; otherwise one worker process per kind, run at once."""
    if not spans_kinds(clouds, config):
        return run_here(task, clouds, regions, options, config, state, warn)
    by_kind: dict[str, list[str]] = {}
    for cloud in clouds:
        by_kind.setdefault(_kind_of(cloud, config), []).append(cloud)
    jobs = [{"task": task, "clouds": group, "regions": regions, "options": options,
             "config": str(config.path), "state": str(state.path), "debug": errors.DEBUG}
            for group in by_kind.values()]
    found = run_jobs(jobs, warn or (lambda text: print(f"warning: {text}", file=sys.stderr)))
    first = {cloud: index for index, cloud in enumerate(clouds)}
    return sorted(found, key=lambda o: first.get(o.item.split(" region ")[0], len(first)))


def spread(cloud_option: str | None, region_option: str | None) -> bool:
    """Whether a list spans several clouds or regions (``--cloud=a,b|all``, ``--region``)."""
    several = bool(cloud_option) and (cloud_option == "all" or "," in cloud_option
                                      or "[" in cloud_option)
    return several or region_option is not None


def list_records(task: str, cloud_option: str | None, region_option: str | None,
                 options: dict[str, Any], config, state) -> tuple[list[dict], list[Outcome]]:
    """A list over several clouds or regions at once: every record says its cloud, and its
    region when one was chosen; the outcomes too (``report_failures`` gives the exit)."""
    from cloudmesh.compute.regions import parse_regions

    regions = parse_regions(region_option)
    listed = run(task, target_clouds(cloud_option, config, state), regions, options,
                 config, state)
    records: list[dict] = []
    for outcome in listed:
        cloud, _, region = outcome.item.partition(" region ")
        for record in outcome.result if outcome.ok else []:
            record = {**record, "cloud": record.get("cloud") or cloud}
            if region:
                record["region"] = record.get("region") or region
            records.append(record)
    return records, listed


def report_failures(outcomes: list[Outcome]) -> int:
    """One stderr line per failed cloud (as it always was) or region (its label first);
    the exit code."""
    failed = [o for o in outcomes if not o.ok]
    for outcome in failed:
        errors.print_error(outcome.error,
                           f"{outcome.item}: " if " region " in outcome.item else "")
    return errors.worst_exit_code([o.error for o in failed])


def cache_names(cloud: str, regions: list[str] | None, state, kind: str = "vm") -> list[str]:
    """Where ``--cached`` reads a cloud's records: its configured region's, the regions
    asked for, or (``all``) every region listed before with --region."""
    from cloudmesh.compute.regions import cache_name

    if regions is None:
        return [cloud]
    if regions == ["all"]:
        return [cache_name(cloud, r) for r in state.cache_regions(cloud, kind)] or [cloud]
    return [cache_name(cloud, r) for r in regions]


# ---- the parent's side: one child per kind ---------------------------------------------
def run_jobs(jobs: list[dict[str, Any]], warn: Callable[[str], None]) -> list[Outcome]:
    """Start one child per job at once and collect their outcomes as they stream in.
    Ctrl-C (or any error here) ends every child before it goes on up (exit 130)."""
    import queue
    import subprocess
    import threading

    events: queue.SimpleQueue = queue.SimpleQueue()
    children = []
    try:
        for job in jobs:
            child = subprocess.Popen(
                [sys.executable, "-m", "cloudmesh.compute.workers"], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8",
                errors="replace")
            children.append((child, job))
            child.stdin.write(json.dumps(job))
            child.stdin.close()
            for stream, tag in ((child.stdout, "out"), (child.stderr, "err")):
                threading.Thread(target=_pump, args=(stream, tag, len(children) - 1, events),
                                 daemon=True).start()
        outcomes: list[Outcome] = []
        done: set[int] = set()
        open_streams = 2 * len(children)
        while open_streams:
            index, tag, line = events.get()  # Ctrl-C interrupts this wait
            if line is None:
                open_streams -= 1
            elif tag == "err":  # what the child's libraries print: to our stderr
                sys.stderr.write(errors.printable_line(line.rstrip("\n")) + "\n")
            else:
                event = json.loads(line)
                if "warning" in event:
                    warn(event["warning"])
                elif event.get("done"):
                    done.add(index)
                elif "error" in event:
                    if event.get("trace"):
                        sys.stderr.write(errors.printable_line(event["trace"]) + "\n")
                    outcomes.append(Outcome(event["item"], error=rebuilt_error(event)))
                else:
                    outcomes.append(Outcome(event["item"], result=event["result"]))
        for index, (child, job) in enumerate(children):
            code = child.wait()
            if index not in done:  # it ended early: its clouds not reported are errors
                seen = {o.item.split(" region ")[0] for o in outcomes}
                outcomes += [Outcome(cloud, error=errors.CloudError(
                    f"cloud '{cloud}': the worker process for its kind ended early "
                    f"(exit {code})", "run 'cms --debug ...' or set CMS_IN_PROCESS=1"))
                    for cloud in job["clouds"] if cloud not in seen]
        return outcomes
    finally:
        for child, _ in children:
            if child.poll() is None:
                child.kill()
                child.wait()


def _pump(stream, tag: str, index: int, events) -> None:
    """Every line of one child's stream into the queue; (index, tag, None) at its end."""
    try:
        for line in stream:
            events.put((index, tag, line))
    finally:
        events.put((index, tag, None))


# ---- the child's side ----------------------------------------------------------------
def error_event(label: str, error: BaseException) -> dict[str, Any]:
    """An outcome's error as a JSON-able event, secrets scrubbed before it leaves."""
    if not isinstance(error, errors.CmsError):
        error = errors.CloudError(f"{type(error).__name__}: {error}")
    event = {"item": label, "error": type(error).__name__,
             "message": errors.scrub(error.message), "status": error.status,
             "code": error.code,
             "hint": errors.scrub(error.hint) if error.hint else None}
    for extra in ("seconds", "kind"):  # what cms check's row shows of a failed cloud
        if getattr(error, extra, None) is not None:
            event[extra] = getattr(error, extra)
    if errors.DEBUG:
        import traceback

        event["trace"] = errors.scrub("".join(traceback.format_exception(
            type(error), error, error.__traceback__)))
    return event


def rebuilt_error(event: dict[str, Any]) -> errors.CmsError:
    """The CmsError a child reported, as the same class (so the same exit code)."""
    found = getattr(errors, str(event.get("error")), None)
    cls = found if isinstance(found, type) and issubclass(found, errors.CmsError) \
        else errors.CloudError
    error = cls.__new__(cls)
    errors.CmsError.__init__(error, event["message"], event.get("hint"),
                             status=event.get("status"), code=event.get("code"))
    for extra in ("seconds", "kind"):
        if extra in event:
            setattr(error, extra, event[extra])
    return error


def _child() -> int:
    """``python -m cloudmesh.compute.workers``: one job (JSON) on stdin; one JSON line per
    warning and per outcome on stdout, the last one ``{"done": true}``."""
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # whatever a library prints goes to stderr, never into the channel
    job = json.loads(sys.stdin.read())
    errors.set_debug(bool(job.get("debug")))
    import threading

    lock = threading.Lock()

    def send(event: dict[str, Any]) -> None:
        line = json.dumps(event, default=str)
        with lock:
            channel.write(line + "\n")
            channel.flush()

    from cloudmesh.compute.config import Config
    from cloudmesh.compute.state import State

    config, state = Config(job["config"]), State(job["state"])
    for outcome in run_here(job["task"], job["clouds"], job["regions"], job["options"],
                            config, state, warn=lambda text: send({"warning": text})):
        send({"item": outcome.item, "result": outcome.result} if outcome.ok
             else error_event(outcome.item, outcome.error))
    send({"done": True})
    return 0


if __name__ == "__main__":
    try:
        sys.exit(_child())
    except KeyboardInterrupt:
        sys.exit(errors.EXIT_INTERRUPTED)
