"""The baseline an audit is measured against: a bare Python process importing pandas and parsing
a bundle's CSVs with pyarrow, nothing of auditkit. Prints its seconds, rows and allocator as
JSON (its peak memory is peak.py's to measure).

    python benchmarks/bare_parse.py BUNDLE
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

# The tables an audit reads; ground_truth.csv is the generator's, not the clinic's.
AUDITED_TABLES = {"staff", "clients", "appointments", "contacts", "notes", "approvals", "calls"}


def main(bundle: Path) -> dict:
    started = time.perf_counter()
    import pandas as pd  # noqa: F401 (the import is part of the baseline)
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rows = 0
    for path in sorted(bundle.glob("*.csv")):
        if path.stem in AUDITED_TABLES:
            # pandas' engine="pyarrow" cannot read quoted line breaks; pyarrow itself can.
            options = pacsv.ParseOptions(newlines_in_values=True)
            rows += len(pacsv.read_csv(path, parse_options=options).to_pandas())
    return {
        "seconds": time.perf_counter() - started,
        "rows": rows,
        "allocator": pa.default_memory_pool().backend_name,
    }


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]))))
