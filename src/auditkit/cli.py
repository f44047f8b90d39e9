"""The `auditkit` command: import exports, validate, audit, convert, explain rules, sample data.

Exit codes: 0 the command completed; 1 `audit --fail-on` found findings at or above that
severity that nobody dismissed; 2 bad input or usage, with one readable paragraph on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import sys
import textwrap
from collections.abc import Callable, Iterator, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

from auditkit.errors import AuditkitError
from auditkit.months import LAST_MONTH, month_problem

if TYPE_CHECKING:
    import pandas as pd

    from auditkit.auditing import AuditResult
    from auditkit.policy import Policy

EXIT_OK, EXIT_FINDINGS, EXIT_BAD_INPUT = 0, 1, 2
CALLS_HELP = "the phone system's call log, a calls table (default: the bundle's calls.csv, if any)"


def _month(value: str) -> str:
    """--month as typed: 'Last' and ' last' are `last` (a command line is typed by hand)."""
    value = LAST_MONTH if value.strip().lower() == LAST_MONTH else value
    if problem := month_problem(value):
        raise argparse.ArgumentTypeError(problem)
    return value


def _path(value: str) -> str:
    """A file or folder named on the command line: never empty, which Path("") would read as
    this folder (a script's unset variable, `auditkit audit "$BUNDLE"`, would audit it)."""
    if not value.strip():
        raise argparse.ArgumentTypeError("a file or folder must be named, not an empty string")
    return value


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {value!r}")
    return int(value)


def _whole(value: str) -> int:
    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"must be a whole number of 0 or more, not {value!r}")
    return int(value)


def _table(frame: pd.DataFrame) -> str:
    return frame.to_string(index=False) if len(frame) else "(none)"


def _imports_done() -> None:
    """Let the garbage collector back in, now the command's modules are imported (see run()).

    Frozen first: the objects imports made live as long as the process, so no collection
    needs to walk them again.
    """
    if not gc.isenabled():  # else not run()'s process (a test's, a notebook's): left alone
        gc.freeze()
        gc.enable()


@contextlib.contextmanager
def _importing_late() -> Iterator[None]:
    """Imports a command makes after its start, made as run() makes the first (no collection
    while they run, then _imports_done); left alone outside run()'s process, which is the only
    one whose objects _imports_done froze."""
    if gc.get_freeze_count() > 0:
        gc.disable()
    try:
        yield
    finally:
        _imports_done()  # (nothing to do where the collector was never turned off)


def _check_engine_options(args: argparse.Namespace) -> None:
    """The Dask engine's options given to the pandas engine are a usage error, not ignored: the
    user meant the run to go to a cluster."""
    if args.engine == "dask":
        return
    options = {"--scheduler": args.scheduler, "--partitions": getattr(args, "partitions", None)}
    given = [option for option, value in options.items() if value]
    if given:
        are = "is" if len(given) == 1 else "are"
        raise AuditkitError(f"{' and '.join(given)} {are} for --engine dask.")


def cmd_validate(args: argparse.Namespace) -> int:
    from auditkit import load

    _imports_done()

    _check_engine_options(args)
    if args.engine == "dask":  # loaded on the workers, as an audit on Dask loads it
        from auditkit.distributed import load_bundle_on_dask  # Dask is an optional extra

        bundle = load_bundle_on_dask(
            Path(args.bundle), args.scheduler, args.policy, args.calls, _progress(quiet=False)
        )
    else:
        bundle = load(args.bundle, args.policy, progress=_progress(quiet=False), calls=args.calls)
    print(f"Bundle {args.bundle} (policy: {_policy_words(bundle.policy)})\n")
    print(_table(bundle.coverage))
    if len(bundle.rejected):
        print(f"\nFirst problems ({len(bundle.rejected)} in all):")
        print(_table(bundle.rejected.head(args.show)))
    return EXIT_OK


def _progress(quiet: bool) -> Callable[[str], None] | None:
    """Progress lines for a person at a terminal; pipes, logs and --quiet get none."""
    if quiet or not sys.stderr.isatty():
        return None
    return lambda message: print(message, file=sys.stderr, flush=True)


def _summary(result: AuditResult) -> pd.DataFrame:
    """Compliance per rule, with the dismissed findings it no longer counts beside it; a rule
    with no figure says why (report.no_figure, as the page does), where a blank or NaN would be
    misread."""
    from auditkit.report import no_figure, rule_summary

    rules = rule_summary(result).set_index("rule")
    table = rules[["opportunities", "findings", "compliance"]].copy()
    dismissed = result.findings[result.findings["review"] == "dismissed"]
    table.insert(2, "dismissed", dismissed["rule"].value_counts().reindex(table.index).fillna(0))
    # Four decimals each, as compliance.csv has them: a column that also holds words would
    # print 0.927 beside 0.9384.
    figure = table["compliance"].map("{:.4f}".format, na_action="ignore")
    why = no_figure(rules)
    table["compliance"] = figure.where(why == "", why)
    return table.astype({"dismissed": "int64"}).reset_index()


def _policy_words(policy: Policy) -> str:
    """Where the policy came from; for one naming no zone, the built-in clinic time zone it
    assumes, by which every month and deadline is counted."""
    if policy.zone_named:
        return policy.source
    return f"{policy.source}, time zone {policy.clinic.timezone}"


def _reviews_line(result: AuditResult) -> str:
    """What the reviews file did; without one, where a converted bundle's decisions are kept."""
    from auditkit.convert import converted_from
    from auditkit.loading import find_table_file

    if result.reviews_file is not None:
        return result.reviews_summary
    source = converted_from(result.bundle.path)
    kept = find_table_file(source, "reviews") if source and source.is_dir() else None
    if kept is None:
        return result.reviews_summary
    return (
        f"{result.reviews_summary} This bundle was converted from {source}, whose QA decisions "
        f"a conversion does not copy: --reviews {kept} applies them."
    )


def _failing(result: AuditResult, severity: str | None) -> int:
    """Findings nobody dismissed at or above `severity` (none when no threshold is set)."""
    if severity is None:
        return 0
    findings = result.findings
    from auditkit.severity import SEVERITY_ORDER

    serious = findings["severity"].map(SEVERITY_ORDER) <= SEVERITY_ORDER[severity]
    return int((serious & (findings["review"] != "dismissed")).sum())


def cmd_audit(args: argparse.Namespace) -> int:
    from auditkit import load
    from auditkit.auditing import audit, check_auditable
    from auditkit.output import check_folder, counted, write_csv
    from auditkit.reviews import check_reviews_file

    _imports_done()

    _check_engine_options(args)
    out = Path(args.out)
    check_folder(out, "--out")  # first: a long audit must not end in an unwritable folder
    check_auditable(Path(args.bundle))
    if args.reviews is not None:
        check_reviews_file(Path(args.reviews))
    progress = _progress(args.quiet)
    options = {
        "month": args.month,
        "reviews": args.reviews,
        "progress": progress,
        "show_names": args.show_names,
        "clinicians": tuple(args.clinician),
    }
    if args.engine == "dask":  # loaded on the workers
        from auditkit.distributed import audit_on_dask  # Dask is an optional extra

        result = audit_on_dask(
            Path(args.bundle),
            args.scheduler,
            args.partitions,
            policy=args.policy,
            calls=args.calls,
            **options,
        )
    else:
        # Passed on, not kept here: the report and tables read no message, note or code, so
        # the records are cut to what they read once the rules are done, as the Dask engine's.
        result = audit(
            load(args.bundle, args.policy, progress=progress, calls=args.calls),
            **options,
            keep_records=False,
        )
    # The report's modules (altair and vl-convert, 36 MB) come in only now: not held through
    # the load and the rules, whose peaks are the run's.
    with _importing_late():
        from auditkit.report import month_over_month, write_report

    def tables() -> None:
        write_csv(result.findings, out / "findings.csv")
        write_csv(result.rejected, out / "rejected.csv")
        write_csv(result.stale_reviews, out / "stale_reviews.csv")
        write_csv(result.pending, out / "pending.csv")  # what the caveats count, to look at again
        write_csv(result.compliance, out / "compliance.csv")
        write_csv(result.compliance_by("staff_id"), out / "compliance_by_clinician.csv")
        write_csv(month_over_month(result), out / "compliance_by_month.csv")  # as the workbook

    write_report(result, out, first=tables)  # the tables are written while the report renders
    failing = _failing(result, args.fail_on)
    fails = (
        f"Exit code 1 (--fail-on {args.fail_on}): findings of {args.fail_on} severity or above "
        f"that are not dismissed: {failing}."
    )
    # Said wherever the run is read: the outputs go on to be filed and forwarded.
    shown = (
        "Names shown (--show-names): client names and phone numbers are in the report and the "
        f"tables in {out}. For internal QA only; do not file or share them."
    )
    if not args.quiet:
        period = f"month {result.month}" if result.month else "everything in the bundle"
        if args.clinician:
            period += f"; only the records of {', '.join(result.clinicians)}"
        print(f"Audited {args.bundle} ({period}; policy: {_policy_words(result.bundle.policy)})")
        print(_table(result.coverage[["file", "rows_read", "accepted", "rejected"]]))
        print()
        print(_table(_summary(result)))
        for caveat in result.caveats:
            print(caveat)
        rejected = f"{counted(result.rows_rejected, 'input row')} rejected"
        problems = f"{counted(len(result.rejected), 'problem')} in rejected.csv"
        # As the table above counts them: findings dismissed on review apart.
        dismissed = int((result.findings["review"] == "dismissed").sum())
        findings = counted(len(result.findings) - dismissed, "finding")
        findings += f", and {dismissed} dismissed on review" if dismissed else ""
        print(f"\n{findings}; {rejected} ({problems}).")
        print(_reviews_line(result))
        if result.names_shown:
            print(shown)
        print(f"Report: {out / 'report.html'} (and report.xlsx)")
        print(
            f"Tables in {out}/: findings.csv, rejected.csv, stale_reviews.csv, pending.csv, "
            "compliance*.csv"
        )
        if failing:
            print(fails)
    else:  # a missing figure, or why the run fails, must not pass unseen in a script's log
        names = [shown] if result.names_shown else []
        for line in [*result.caveats, *names, *([fails] if failing else [])]:
            print(f"auditkit: {line}", file=sys.stderr)
    return EXIT_FINDINGS if failing else EXIT_OK


def cmd_convert(args: argparse.Namespace) -> int:
    from auditkit.convert import convert
    from auditkit.output import counted

    _imports_done()

    _check_engine_options(args)
    progress = _progress(args.quiet)
    if args.engine == "dask":  # loaded on the workers, written here a piece at a time
        from auditkit.distributed import convert_on_dask  # Dask is an optional extra

        done = convert_on_dask(
            args.bundle, args.out, args.scheduler, args.policy, args.calls, progress
        )
    else:
        done = convert(args.bundle, args.out, args.policy, args.calls, progress)
    rejected = done.bundle.rejected
    rows = int(done.bundle.coverage["rejected"].sum())
    were = "was" if rows == 1 else "were"
    problems = counted(len(rejected), "problem") + (", in" if len(rejected) == 1 else ", all in")
    set_aside = (
        f"{counted(rows, 'row')} {were} set aside, not converted "
        f"({problems} {done.folder / 'rejected.csv'})"
    )
    if args.quiet:  # what is missing from the converted bundle still reaches a script's log
        if len(rejected):
            print(f"auditkit: {set_aside}.", file=sys.stderr)
        return EXIT_OK
    print(f"Converted {args.bundle} to {args.to} in {done.folder}: {', '.join(done.files)}")
    print(_table(done.bundle.coverage[["file", "rows_read", "accepted", "rejected"]]))
    if len(rejected):
        print(f"\n{set_aside}:")
        print(_table(rejected.head(args.show)))
    return EXIT_OK


_SHEETS_NAMED = 10  # a workbook of a sheet a month for years: the first ten, and a count


def cmd_import(args: argparse.Namespace) -> int:
    import pandas as pd

    from auditkit.importing import import_file, load_mapping, preset
    from auditkit.output import counted
    from auditkit.tables import printable, printable_names

    _imports_done()

    mapping = preset(args.preset) if args.preset else load_mapping(args.mapping)
    done = import_file(args.file, args.into, mapping, args.policy, args.sheet)
    how = f"preset {args.preset}" if args.preset else f"mapping {args.mapping}"
    replaced = f", replacing {done.replaced} with the same {mapping.spec.id_column}"
    sheet = "" if done.sheet is None else f", sheet '{printable(done.sheet)}'"
    where = "line" if done.sheet is None else "row"  # a CSV's, or a worksheet's
    header = f", header on {where} {done.header_line}" if done.header_line != 1 else ""
    print(
        f"Imported {counted(done.rows, 'row')} of {Path(args.file).name}{sheet}{header} ({how}) "
        f"into {done.path}{replaced if done.replaced else ''}."
    )
    if done.alike_sheets:  # monthly sheets, say: only the first was read
        names = printable_names(list(done.alike_sheets), most=_SHEETS_NAMED)
        if len(done.alike_sheets) == 1:
            print(f"Sheet {names} holds the same columns and was not read: import it with --sheet.")
        else:
            print(
                f"Sheets {names} hold the same columns and were not read: import each with --sheet."
            )
    if done.rows == 0:  # exported for a period with nothing in it, most often
        print(
            f"{Path(args.file).name} has no records, only its header: check the period it "
            "was exported for."
        )
    if done.clients:
        print("Calls matched to clients by phone number:")
        print(_table(pd.DataFrame(done.clients.items(), columns=["calls", "count"])))
    marked = len(done.set_aside) - done.malformed - done.unsaved_formulas - done.unmapped_only
    if marked:
        print(
            f"\n{counted(marked, 'value')} the mapping can't read, marked in {done.path.name}: "
            "the loader sets such rows aside (auditkit validate)."
        )
    # Rows whose values can't be told apart: written with their id alone, marked.
    written_marked = (
        f"written to {done.path.name} with the id alone and marked, so the loader sets such rows "
        "aside (auditkit validate)."
    )
    if done.malformed:
        print(
            f"\n{counted(done.malformed, 'row')} of the export with another number of fields "
            f"than its header (an unquoted comma in a value, say): {written_marked} Correct the "
            "export and import it again."
        )
    if done.unsaved_formulas:
        print(
            f"\n{counted(done.unsaved_formulas, 'row')} with a formula whose value the workbook "
            f"never saved (written by a program, not saved from Excel): {written_marked} Open the "
            "workbook in Excel, save it, and import it again."
        )
    if done.unmapped_only:
        print(
            f"\n{counted(done.unmapped_only, 'row')} with values only in columns the mapping "
            f"doesn't read (a note continuing the row above, say): written to {done.path.name} "
            "marked, so the loader sets such rows aside (auditkit validate). Add the values to "
            "their row, or clear the row, in the export, and import it again."
        )
    if len(done.set_aside):
        print(_table(done.set_aside.head(args.show)))
    if len(done.lost_numbers):
        print(
            f"\n{counted(len(done.lost_numbers), 'phone number')} stored by Excel as a number, "
            "which loses a leading 0 or +, so which number it was can't be told: written as "
            "its digits and matched to no client. Format those columns as Text where the "
            "export is made, and import it again."
        )
        print(_table(done.lost_numbers.head(args.show)))
    if len(done.repeated):
        print()
    id_column = mapping.spec.id_column
    for record_id, rows, lines in done.repeated.head(args.show).itertuples(index=False):
        more = f" and {len(lines) - 5:,} more" if len(lines) > 5 else ""
        print(
            f"{rows:,} rows share {id_column} {printable(record_id)} (lines "
            f"{', '.join(map(str, lines[:5]))}{more}): the loader keeps the first and sets aside "
            "the others."
        )
    if len(done.repeated) > args.show:
        print(f"... and {counted(len(done.repeated) - args.show, 'more id')} on several rows.")
    return EXIT_OK


def cmd_rules(args: argparse.Namespace) -> int:
    import pandas as pd

    from auditkit.policy import load_policy, setting
    from auditkit.rules import RULES

    _imports_done()

    if args.code is None:
        rows = [(r.code, r.name, r.severity, r.subject) for r in RULES.values()]
        print(_table(pd.DataFrame(rows, columns=["code", "name", "severity", "subject"])))
        return EXIT_OK
    rule = RULES.get(args.code.upper())
    if rule is None:
        raise AuditkitError(f"There is no rule {args.code!r}. Rules: {', '.join(RULES)}.")
    policy = load_policy(args.policy)  # first: a policy that can't be read prints nothing
    wrap = textwrap.TextWrapper(width=88, initial_indent="  ", subsequent_indent="  ")
    print(f"{rule.code} {rule.name} (severity {rule.severity}; subject: {rule.subject})\n")
    for title, body in [
        ("Policy", rule.quoted_policy),
        ("Why it matters", rule.why),
        ("Examines", rule.examines),
        ("Violating example", rule.violating),
        ("Compliant example", rule.compliant),
    ]:
        print(f"{title}:\n{wrap.fill(body)}\n")
    print(f"Settings in force ({policy.source}):")
    for key in rule.settings:
        print(f"  {key} = {setting(policy, key)}")
    if not rule.settings:
        print("  none but the clinic's time zone and its [phrases]")
    if why := rule.cannot_check(policy):
        print(f"\nNot checked under this policy: {why}.")
    return EXIT_OK


def cmd_sample(args: argparse.Namespace) -> int:
    from auditkit.sample import generate_sample

    _imports_done()

    truth = generate_sample(
        Path(args.dir), clients=args.clients, seed=args.seed, broken_rows=args.broken_rows
    )
    print(
        f"Wrote a sample bundle to {args.dir} with {len(truth)} known violations "
        "(ground_truth.csv)."
    )
    return EXIT_OK


def cmd_deidentify(args: argparse.Namespace) -> int:
    from auditkit import load
    from auditkit.deidentify import MIN_CELL, RARE_SERVICE, deidentify
    from auditkit.output import counted

    _imports_done()

    progress = _progress(args.quiet)
    # Not the call log: an extract leaves it out (it is phone numbers throughout).
    bundle = load(args.bundle, args.policy, progress=progress, calls=False)
    extract = deidentify(
        bundle,
        Path(args.out),
        key_file=Path(args.key_file) if args.key_file else None,
        scrubbed_text=args.scrubbed_text,
        progress=progress,
    )
    # A researcher's counts would silently miss them: said even under --quiet.
    left_out = extract.rows_set_aside
    set_aside = (
        f"{counted(left_out, 'input row')} set aside by the loader "
        f"{'is' if left_out == 1 else 'are'} not in the extract "
        f"(auditkit validate {args.bundle} lists them)."
    )
    # Where the key went, even under --quiet: a key written unseen is a key left lying around.
    key = (
        f"The key to re-identify it is {extract.key_file}: keep it at the clinic; the researcher "
        "must never receive it."
    )
    if args.quiet:
        print(f"auditkit: {key}", file=sys.stderr)
        if left_out:
            print(f"auditkit: {set_aside}", file=sys.stderr)
        return EXIT_OK
    rows = ", ".join(f"{table} {count:,}" for table, count in extract.rows.items())
    print(f"Wrote a de-identified, date-shifted extract to {extract.folder} ({rows}).")
    print(key)
    if extract.rare_services:  # a researcher finds them as one value: said how many and why
        print(
            f"{counted(extract.rare_services, 'service')} used by fewer than {MIN_CELL} clients "
            f"({counted(extract.rare_service_appointments, 'appointment')}) "
            f"{'is' if extract.rare_services == 1 else 'are'} written as '{RARE_SERVICE}' "
            "(extract.json counts them)."
        )
    if left_out:
        print(set_aside)
    return EXIT_OK


def _engine_arguments(command: argparse.ArgumentParser, engines: str) -> None:
    """--engine (`engines` says what each does) and --scheduler."""
    command.add_argument("--engine", choices=["pandas", "dask"], default="pandas", help=engines)
    command.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="the Dask scheduler, e.g. tcp://host:8786 (default: a local cluster of 2 workers)",
    )


def _quiet_argument(command: argparse.ArgumentParser, also: str = "") -> None:
    command.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help=f"no progress and no summary; only errors, {also}and what the results leave out",
    )


def build_parser() -> argparse.ArgumentParser:
    from auditkit.severity import SEVERITY_ORDER  # here, so run() decides imports first

    parser = argparse.ArgumentParser(
        prog="auditkit",
        description="Audit a clinic's phone contacts against its phone-contact policy.",
    )
    parser.add_argument("--version", action="version", version=f"auditkit {version('auditkit')}")
    commands = parser.add_subparsers(dest="command", required=True)

    validate = commands.add_parser("validate", help="check a bundle and report rows per file")
    validate.add_argument("bundle", type=_path, help="folder of table files")
    validate.add_argument(
        "--policy", type=_path, help="policy TOML (default: the bundle's policy.toml)"
    )
    validate.add_argument("--show", type=_whole, default=20, help="problems to list (default 20)")
    validate.add_argument("--calls", type=_path, help=CALLS_HELP)
    _engine_arguments(
        validate,
        "pandas (default): on this machine; dask: on a Dask cluster, the CSVs parsed in pieces "
        "on its workers (needs auditkit[dask])",
    )
    validate.set_defaults(run=cmd_validate)

    run = commands.add_parser("audit", help="check every policy rule and write the results")
    run.add_argument("bundle", type=_path, help="folder of table files")
    run.add_argument("--policy", type=_path, help="policy TOML (default: the bundle's policy.toml)")
    run.add_argument(
        "--out", type=_path, default="out", help="folder for the results (default: out)"
    )
    run.add_argument(
        "--month",
        type=_month,
        help="audit only this month, YYYY-MM, or last: the month before this one on the "
        "clinic's clock (for a monthly audit on a schedule)",
    )
    run.add_argument(
        "--clinician",
        action="append",
        default=[],
        metavar="STAFF_ID",
        help="a report of only this clinician's records, for them (repeat for several)",
    )
    run.add_argument(
        "--reviews",
        type=_path,
        help="review decisions CSV (default: the bundle's reviews.csv, if any)",
    )
    run.add_argument("--calls", type=_path, help=CALLS_HELP)
    run.add_argument(
        "--show-names",
        action="store_true",
        help="keep client names and phone numbers in the evidence (internal QA only; the "
        "report says so)",
    )
    run.add_argument(
        "--fail-on",
        type=str.lower,  # HIGH is high
        choices=list(SEVERITY_ORDER),
        metavar="SEVERITY",
        help="exit 1 if findings at or above SEVERITY (high, medium, low) are not dismissed",
    )
    _quiet_argument(run)
    _engine_arguments(
        run,
        "pandas (default): on this machine; dask: on a Dask cluster, the CSVs parsed in pieces "
        "and the rules run per client partition on its workers (needs auditkit[dask])",
    )
    run.add_argument(
        "--partitions",
        type=_positive,
        metavar="N",
        help="client partitions for --engine dask (default: twice the cluster's worker threads)",
    )
    run.set_defaults(run=cmd_audit)

    convert = commands.add_parser(
        "convert", help="write a bundle's validated tables as typed Parquet, for repeated audits"
    )
    convert.add_argument("bundle", type=_path, help="folder of table files")
    convert.add_argument("--to", choices=["parquet"], required=True, help="the format: parquet")
    convert.add_argument("--out", type=_path, required=True, help="folder for the converted bundle")
    convert.add_argument(
        "--policy", type=_path, help="policy TOML (default: the bundle's policy.toml)"
    )
    convert.add_argument("--calls", type=_path, help=CALLS_HELP)
    convert.add_argument("--show", type=_whole, default=20, help="problems to list (default 20)")
    _quiet_argument(convert)
    _engine_arguments(
        convert,
        "pandas (default): on this machine; dask: on a Dask cluster, the CSVs parsed in pieces "
        "on its workers and each table written here a piece at a time (needs auditkit[dask])",
    )
    convert.set_defaults(run=cmd_convert)

    from auditkit.presets import PRESETS

    imports = commands.add_parser(
        "import", help="write a practice-management or phone-system export into a bundle table"
    )
    imports.add_argument(
        "file", type=_path, help="the export: a CSV file or an Excel workbook (.xlsx)"
    )
    imports.add_argument(
        "--sheet", metavar="NAME", help="the workbook's sheet to read (default: the first visible)"
    )
    imports.add_argument(
        "--into", type=_path, required=True, metavar="BUNDLE", help="the bundle folder"
    )
    how = imports.add_mutually_exclusive_group(required=True)
    how.add_argument(
        "--preset", choices=PRESETS, metavar="NAME", help="a built-in mapping: %(choices)s"
    )
    how.add_argument(
        "--mapping", type=_path, metavar="TOML", help="a mapping file (docs/bundle-format.md)"
    )
    imports.add_argument(
        "--policy",
        type=_path,
        help="policy TOML for the clinic's time zone (default: the bundle's policy.toml)",
    )
    imports.add_argument("--show", type=_whole, default=20, help="problems to list (default 20)")
    imports.set_defaults(run=cmd_import)

    rules = commands.add_parser("rules", help="list the rules, or explain one")
    rules.add_argument("code", nargs="?", help="a rule code such as MS002")
    rules.add_argument(
        "--policy",
        type=_path,
        help="policy TOML whose settings to show (default: the built-in policy)",
    )
    rules.set_defaults(run=cmd_rules)

    extract = commands.add_parser(
        "deidentify", help="write a de-identified, date-shifted research extract of a bundle"
    )
    extract.add_argument("bundle", type=_path, help="folder of table files")
    extract.add_argument("--out", type=_path, required=True, help="folder for the extract")
    extract.add_argument(
        "--key-file",
        type=_path,
        help="where the re-identification key goes (default: OUT.key.csv, beside)",
    )
    extract.add_argument(
        "--scrubbed-text",
        action="store_true",
        help="keep messages and notes with names, numbers and dates masked",
    )
    extract.add_argument(
        "--policy", type=_path, help="policy TOML (default: the bundle's policy.toml)"
    )
    _quiet_argument(extract, also="where the key went ")
    extract.set_defaults(run=cmd_deidentify)

    sample = commands.add_parser("sample", help="generate a synthetic bundle with known answers")
    sample.add_argument("dir", type=_path, help="folder to write")
    sample.add_argument(
        "--clients", type=_positive, default=40, help="invented clients, a year each (default 40)"
    )
    sample.add_argument(
        "--seed", type=_whole, default=7, help="same seed, same files (default 7, make sample's)"
    )
    sample.add_argument(
        "--broken-rows", action="store_true", help="append a few deliberately broken rows"
    )
    sample.set_defaults(run=cmd_sample)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: runs a command; bad input ends in one paragraph and exit code 2."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as stop:  # usage errors and --help: argparse has printed its message
        return int(stop.code or 0)
    try:
        code = args.run(args)
        sys.stdout.flush()  # inside the try: a closed pipe shows here, not at interpreter exit
        return code
    except BrokenPipeError:  # `auditkit rules | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except AuditkitError as error:
        # Wrap only at spaces: a path broken at a hyphen can't be copied back.
        message = textwrap.fill(
            f"auditkit: {error}", width=88, break_on_hyphens=False, break_long_words=False
        )
        print(message, file=sys.stderr)
        return EXIT_BAD_INPUT


def run() -> None:
    """The console command: main() in a process of its own.

    No garbage collection while modules are imported: imports make hundreds of thousands of
    objects and no garbage, and collections walking them took a tenth of a second of the
    start. Each command lets the collector back in once its imports are done (_imports_done).
    Nor any module its libraries would import but it never uses (startup).

    One BLAS thread: numpy's OpenBLAS starts a thread per core that spins for a moment at
    import (0.1 s of CPU, three runs each), and no command does linear algebra (research's
    regressions run in notebooks).
    """
    gc.disable()
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from auditkit.memory import use_jemalloc_for_arrow, use_one_malloc_arena
    from auditkit.startup import leave_out_unused_modules

    leave_out_unused_modules()
    use_one_malloc_arena()
    use_jemalloc_for_arrow()
    sys.exit(main())


if __name__ == "__main__":
    run()
