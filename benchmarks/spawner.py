"""Runs the benchmarked commands for harness.py and reports wall time, CPU and peak RSS.

Started once as ``python -S -I spawner.py`` and kept small on purpose: Linux records in a
child's peak RSS (``ru_maxrss``) the peak of the memory it was spawned from, so a child
of the benchmark driver (tens of MB after importing boto3) would never show less than the
driver. Spawned from this process, whose own peak is below that of ``python -c pass``, a
child's figure is its own. Only built-in modules are imported.

Protocol, one line each way per command:
  in:  TIMEOUT \\x1f STDERR_PATH \\x1f N \\x1f N x KEY=VALUE \\x1f ARGV...
  out: done WALL UTIME STIME MAXRSS_KB EXIT_CODE TIMED_OUT   or   error MESSAGE
"""

import _signal
import os
import sys
import time

DEV_NULL = "/dev/null"
child = 0
timed_out = False


def on_alarm(signum, frame):
    global timed_out
    timed_out = True
    if child:
        try:
            os.kill(child, 9)
        except OSError:
            pass


_signal.signal(_signal.SIGALRM, on_alarm)
read, write = sys.stdin.buffer.readline, sys.stdout.write
while True:
    line = read()
    if not line:
        break
    fields = line.rstrip(b"\n").decode("utf-8").split("\x1f")
    timeout, errors, count = int(fields[0]), fields[1], int(fields[2])
    env = dict(item.split("=", 1) for item in fields[3:3 + count])
    argv = fields[3 + count:]
    actions = [(os.POSIX_SPAWN_OPEN, 0, DEV_NULL, os.O_RDONLY, 0),
               (os.POSIX_SPAWN_OPEN, 1, DEV_NULL, os.O_WRONLY, 0),
               (os.POSIX_SPAWN_OPEN, 2, errors, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)]
    timed_out = False
    started = time.perf_counter()
    try:
        child = os.posix_spawn(argv[0], argv, env, file_actions=actions)
    except OSError as error:
        write(f"error {argv[0]}: {error}\n")
        sys.stdout.flush()
        continue
    _signal.alarm(timeout)
    _, status, usage = os.wait4(child, 0)
    wall = time.perf_counter() - started
    _signal.alarm(0)
    child = 0
    write(f"done {wall!r} {usage.ru_utime!r} {usage.ru_stime!r} {usage.ru_maxrss} "
          f"{os.waitstatus_to_exitcode(status)} {int(timed_out)}\n")
    sys.stdout.flush()
