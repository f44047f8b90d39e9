"""Run a command and print, as its last line of output, its own peak memory and exit status.

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
    print(json.dumps({"peak_mb": usage.ru_maxrss / 1024, "exit": code}), flush=True)
    sys.exit(code)
