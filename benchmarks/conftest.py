"""What `make bench` shares: the sizes, the generated bundles and a stage's peak memory.

AUDITKIT_BENCH_SIZES (appointments, comma-separated; default 10000,100000,1000000) and
AUDITKIT_BENCH_REPEAT (rounds of the whole command and the baselines; default 3) narrow a run.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
from pathlib import Path

import pytest

from auditkit.memory import use_jemalloc_for_arrow, use_one_malloc_arena

# As the auditkit command does, before numpy's and Arrow's threads start (see auditkit.memory).
use_one_malloc_arena()
use_jemalloc_for_arrow()

HERE = Path(__file__).resolve().parent
DATA = HERE / ".data"
SIZES = [int(n) for n in os.environ.get("AUDITKIT_BENCH_SIZES", "10000,100000,1000000").split(",")]
REPEAT = max(1, int(os.environ.get("AUDITKIT_BENCH_REPEAT", "3")))
CLIENTS_PER_APPOINTMENT = 1 / 29.0  # the generator books about 29 appointments per client-year


def bundle_for(appointments: int) -> Path:
    """A generated bundle of about `appointments` appointments, made once and kept."""
    folder = DATA / f"appointments-{appointments}"
    if not (folder / "ground_truth.csv").exists():
        from auditkit.sample import generate_sample

        generate_sample(
            folder, clients=max(10, round(appointments * CLIENTS_PER_APPOINTMENT)), seed=1
        )
    return folder


def issue_example_for(appointments: int) -> Path:
    """The generated bundle cut to the shape of issue 7's example (a million appointments with
    about 190k contacts and 140k notes, 134 MB of CSV): made once and kept.

    The generator logs every contact and note a clinic would; the example counts the outreach
    an audit is about. So the appointments, staff, clients and approvals are kept whole, the
    contacts only those after a missed session and inquiries, the notes only those on a missed
    session or on no appointment, and there is no phone-system call log. At 1M appointments:
    218k contacts, 151k notes, 157 MB."""
    import pandas as pd

    from auditkit.parsing import parse_vocabulary
    from auditkit.schemas import APPOINTMENT_STATUSES

    source, folder = bundle_for(appointments), DATA / f"issue-example-{appointments}"
    if (folder / "notes.csv").exists():  # written last
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("staff.csv", "clients.csv", "approvals.csv", "appointments.csv", "policy.toml"):
        shutil.copyfile(source / name, folder / name)

    def read(name: str) -> pd.DataFrame:
        return pd.read_csv(source / name, dtype=str, keep_default_na=False)

    appointments_ = read("appointments.csv")
    status = parse_vocabulary(appointments_["status"], APPOINTMENT_STATUSES, "status")[0]
    missed = appointments_.loc[status.eq("no_show").to_numpy(), "appointment_id"]
    contacts = read("contacts.csv")
    contacts[contacts["purpose"].isin(["missed_session", "inquiry"])].to_csv(
        folder / "contacts.csv", index=False
    )
    notes = read("notes.csv")
    on_missed = notes["appointment_id"].isin(missed) | notes["appointment_id"].eq("")
    notes[on_missed].to_csv(folder / "notes.csv", index=False)
    return folder


def quoted_example_for(appointments: int) -> Path:
    """Issue 7's example (issue_example_for) with every field of every file in quotes, as some
    exports write them all: a quote every few bytes, where the example's own files quote only
    a text with a comma in it. Made once and kept."""
    import csv

    import pandas as pd

    source, folder = issue_example_for(appointments), DATA / f"quoted-example-{appointments}"
    if (folder / "notes.csv").exists():  # written last
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source / "policy.toml", folder / "policy.toml")
    for name in ("staff", "clients", "approvals", "appointments", "contacts", "notes"):
        table = pd.read_csv(source / f"{name}.csv", dtype=str, keep_default_na=False)
        table.to_csv(folder / f"{name}.csv", index=False, quoting=csv.QUOTE_ALL)
    return folder


def simplepractice_export_for(appointments: int) -> Path:
    """The generated bundle's appointments as SimplePractice exports them (its column names,
    Date as M/D/YYYY and Time as h:mm AM/PM, its status words): what `auditkit import --preset
    simplepractice` reads. Made once and kept. A time the bundle's own loader can't read is a
    blank Date and Time, which the import marks, as it would a clinic's."""
    import pandas as pd

    from auditkit.parsing import parse_timestamp, parse_vocabulary
    from auditkit.policy import load_policy
    from auditkit.schemas import APPOINTMENT_STATUSES

    source, path = bundle_for(appointments), DATA / f"simplepractice-{appointments}.csv"
    if path.exists():
        return path
    frame = pd.read_csv(source / "appointments.csv", dtype=str, keep_default_na=False)
    zone = load_policy(source / "policy.toml").clinic.timezone
    times = parse_timestamp(frame["scheduled_start"], "scheduled_start", zone)[0]
    status = parse_vocabulary(frame["status"], APPOINTMENT_STATUSES, "status")[0]
    words = {"attended": "Show", "no_show": "No Show", "late_cancel": "Late Canceled"}
    export = pd.DataFrame(
        {
            "Appointment ID": frame["appointment_id"],
            "Client ID": frame["client_id"],
            "Clinician ID": frame["staff_id"],
            "Date": times.dt.strftime("%m/%d/%Y"),
            "Time": times.dt.strftime("%I:%M %p"),
            "Duration": frame["duration_minutes"],
            "Service": frame["service"],
            "Status": status.map(words).fillna("Canceled"),
        }
    )
    export.to_csv(path.with_suffix(".tmp"), index=False)
    path.with_suffix(".tmp").replace(path)  # whole, or not there: a run stopped midway redoes it
    return path


class Peak:
    """This process's peak resident memory since the last reset, in MB.

    Linux resets the high-water mark on request (/proc/self/clear_refs), so each stage gets its
    own peak; elsewhere it is the process's peak so far.
    """

    def reset(self) -> None:
        with contextlib.suppress(OSError):  # not Linux: the peak so far stands
            Path("/proc/self/clear_refs").write_text("5")

    def mb(self) -> float:
        try:
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.fixture(scope="module", params=SIZES, ids=lambda n: f"{n:,}")
def size(request: pytest.FixtureRequest) -> int:
    return request.param


@pytest.fixture(scope="module")
def bundle(size: int) -> Path:
    return bundle_for(size)


@pytest.fixture(scope="module")
def out(size: int) -> Path:
    return DATA / f"out-{size}"


@pytest.fixture(scope="module")
def converted(size: int) -> Path:
    """Where the bundle converted to Parquet goes (benchmarks.test_pipeline.test_cli_convert)."""
    return DATA / f"parquet-{size}"
