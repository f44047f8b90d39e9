"""Run a command and print, as its last line of output, its own peak memory, CPU time (user
and kernel) and exit status.

    python benchmarks/peak.py COMMAND [ARGUMENT ...]

Linux counts a started program's peak from the process that started it (ru_maxrss survives fork
and exec), so a run started straight from the benchmark process, which holds a bundle or two,
would report at least that process's size. Started from this small one, it reports its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

if __name__ == "__main__":
    child = subprocess.Popen(sys.argv[1:])
    _pid, status, usage = os.wait4(child.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    measured = {
        "peak_mb": usage.ru_maxrss / 1024,
        "user_s": usage.ru_utime,
        "system_s": usage.ru_stime,
        "exit": code,
    }
    print(json.dumps(measured), flush=True)
    sys.exit(code)
