"""The `auditkit` command: validate, audit, explain rules, generate sample data.

Exit codes: 0 the command completed; 2 bad input or usage, with one readable paragraph on stderr.
"""

from __future__ import annotations

import argparse
import re
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from auditkit.errors import AuditkitError

EXIT_OK, EXIT_BAD_INPUT = 0, 2


def _month(value: str) -> str:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
        raise argparse.ArgumentTypeError(f"month must look like 2026-03, not {value!r}")
    return value


def _table(frame: pd.DataFrame) -> str:
    return frame.to_string(index=False) if len(frame) else "(none)"


def cmd_validate(args: argparse.Namespace) -> int:
    from auditkit import load

    bundle = load(args.bundle, args.policy)
    print(f"Bundle {args.bundle} (policy: {bundle.policy.source})\n")
    print(_table(bundle.coverage))
    if len(bundle.rejected):
        print(f"\nFirst problems ({len(bundle.rejected)} in all):")
        print(_table(bundle.rejected.head(args.show)))
    return EXIT_OK


def cmd_audit(args: argparse.Namespace) -> int:
    from auditkit import load
    from auditkit.auditing import audit
    from auditkit.output import write_csv

    bundle = load(args.bundle, args.policy)
    result = audit(bundle, month=args.month)
    out = Path(args.out)
    write_csv(result.findings, out / "findings.csv")
    write_csv(result.rejected, out / "rejected.csv")
    write_csv(result.compliance, out / "compliance.csv")
    write_csv(result.compliance_by("staff_id"), out / "compliance_by_clinician.csv")
    write_csv(result.compliance_by("month"), out / "compliance_by_month.csv")
    period = f"month {args.month}" if args.month else "everything in the bundle"
    print(f"Audited {args.bundle} ({period}; policy: {bundle.policy.source})")
    print(_table(bundle.coverage[["file", "rows_read", "accepted", "rejected"]]))
    print()
    print(_table(result.compliance))
    print(f"\n{len(result.findings)} findings, {len(result.rejected)} rejected-row problems.")
    print(f"Results in {out}/: findings.csv, rejected.csv, compliance*.csv")
    return EXIT_OK


def cmd_rules(args: argparse.Namespace) -> int:
    from auditkit.rules import RULES

    if args.code is None:
        rows = [(r.code, r.name, r.severity, r.subject) for r in RULES.values()]
        print(_table(pd.DataFrame(rows, columns=["code", "name", "severity", "subject"])))
        return EXIT_OK
    rule = RULES.get(args.code.upper())
    if rule is None:
        raise AuditkitError(f"There is no rule {args.code!r}. Rules: {', '.join(RULES)}.")
    wrap = textwrap.TextWrapper(width=88, initial_indent="  ", subsequent_indent="  ")
    print(f"{rule.code} {rule.name} (severity {rule.severity}; subject: {rule.subject})\n")
    for title, body in [
        ("Policy", rule.policy),
        ("Why it matters", rule.why),
        ("Examines", rule.opportunities),
        ("Violating example", rule.violating),
        ("Compliant example", rule.compliant),
    ]:
        print(f"{title}:\n{wrap.fill(body)}\n")
    return EXIT_OK


def cmd_sample(args: argparse.Namespace) -> int:
    from auditkit.sample import generate_sample

    truth = generate_sample(
        Path(args.dir), clients=args.clients, seed=args.seed, broken_rows=args.broken_rows
    )
    print(
        f"Wrote a sample bundle to {args.dir} with {len(truth)} known violations "
        "(ground_truth.csv)."
    )
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="auditkit",
        description="Audit a clinic's phone contacts against its phone-contact policy.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    validate = commands.add_parser("validate", help="check a bundle and report rows per file")
    validate.add_argument("bundle", help="folder of table files")
    validate.add_argument("--policy", help="policy TOML (default: the bundle's policy.toml)")
    validate.add_argument("--show", type=int, default=20, help="problems to list (default 20)")
    validate.set_defaults(run=cmd_validate)

    run = commands.add_parser("audit", help="check every policy rule and write the results")
    run.add_argument("bundle", help="folder of table files")
    run.add_argument("--policy", help="policy TOML (default: the bundle's policy.toml)")
    run.add_argument("--out", default="out", help="folder for the results (default: out)")
    run.add_argument("--month", type=_month, help="audit only this month, YYYY-MM")
    run.set_defaults(run=cmd_audit)

    rules = commands.add_parser("rules", help="list the rules, or explain one")
    rules.add_argument("code", nargs="?", help="a rule code such as MS002")
    rules.set_defaults(run=cmd_rules)

    sample = commands.add_parser("sample", help="generate a synthetic bundle with known answers")
    sample.add_argument("dir", help="folder to write")
    sample.add_argument("--clients", type=int, default=40)
    sample.add_argument("--seed", type=int, default=7)
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
        return args.run(args)
    except AuditkitError as error:
        print(textwrap.fill(f"auditkit: {error}", width=88), file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
