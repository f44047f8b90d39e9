"""Run the `auditkit` command in this process and print, as its last line of output, this
process's own peak memory (JSON: own_peak_mb).

    python benchmarks/own_peak.py audit BUNDLE --engine dask ...

peak.py reports the largest process of a run, which on the Dask engine is a worker of its local
cluster; this is the driver's own, what a bundle's size costs the machine running the command.
"""

from __future__ import annotations

import atexit
import json
import resource

from auditkit.cli import run


def _own_peak() -> None:
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"own_peak_mb": peak_mb}), flush=True)


if __name__ == "__main__":
    atexit.register(_own_peak)  # run() ends in sys.exit
    run()
