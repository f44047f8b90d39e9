"""What a process of auditkit's own leaves out as it starts: modules its libraries would import
but it never uses. The `auditkit` command's process (cli.run) and the workers of the local Dask
cluster it starts (distributed.local_cluster, as a preload) each begin with it."""

from __future__ import annotations

import sys

# jsonschema (under altair) builds 38 IRI grammars at import when rfc3987_syntax is installed
# (about 1 s), and loads rfc3986_validator's regexes and isoduration (with arrow) for its URI
# and duration checks (about 40 ms), though altair never asks it to check a format; pandera
# imports dask.dataframe whenever dask is installed (about 0.5 s; the Dask engine ships pandas
# partitions and needs only distributed); altair imports anywidget and ipywidgets for its
# JupyterChart (about 0.1 s); and hypothesis, for its data-synthesis strategies, wherever the
# test tools are (about 0.1 s).
UNUSED_MODULES = (
    "rfc3987_syntax",
    "rfc3986_validator",
    "isoduration",
    "dask.dataframe",
    "anywidget",
    "hypothesis",
)


def leave_out_unused_modules() -> None:
    """Keep UNUSED_MODULES out of this process: a None in sys.modules makes an optional import
    fail as if the module were not installed. Only for a process of auditkit's own: a notebook
    or a user's program may well use them."""
    for name in UNUSED_MODULES:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]  # (None: not installed)


def dask_setup(worker: object) -> None:
    """Dask's preload hook, run as a worker of auditkit's local cluster starts: before its
    first task brings auditkit's modules in (pandera with dask.dataframe took 0.6 s a worker)."""
    leave_out_unused_modules()
