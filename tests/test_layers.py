"""Dependencies point one way: the CLI, the report, the widgets and the Dask engine use the
audit; the audit uses the rules, and the rules the text patterns and the policy. Nothing that
loads a bundle or checks a rule imports a report, a widget or the CLI, so the same rule code
runs in a notebook, on a Dask worker and in the command."""

from __future__ import annotations

import ast
import subprocess
import sys

from paths import ROOT, SAMPLE

SOURCE = ROOT / "src" / "auditkit"

# What a program uses to show, store or spread an audit: nothing below may import them.
TOOLS = {
    "auditkit.cli",
    "auditkit.startup",
    "auditkit.report",
    "auditkit.xlsx",
    "auditkit.dashboard",
    "auditkit.review_queue",
    "auditkit.notebook",
    "auditkit.research",
    "auditkit.distributed",
    "auditkit.convert",
    "auditkit.importing",
    "auditkit.sample",
}
# load -> validate -> audit, and what they stand on.
PIPELINE = {
    "auditkit",
    "auditkit.errors",
    "auditkit.severity",
    "auditkit.months",
    "auditkit.presets",
    "auditkit.columns",
    "auditkit.memory",
    "auditkit.output",
    "auditkit.schemas",
    "auditkit.parsing",
    "auditkit.phones",
    "auditkit.tables",
    "auditkit.loading",
    "auditkit.workbooks",
    "auditkit.pieces",
    "auditkit.validation",
    "auditkit.policy",
    "auditkit.text",
    "auditkit.matching",
    "auditkit.regex_safety",
    "auditkit.clinic_name",
    "auditkit.privacy",
    "auditkit.deidentify",
    "auditkit.reviews",
    "auditkit.auditing",
}
# What a rule may read: other rules' shared pieces, the columns' helpers, the tables' shapes,
# the phrase patterns, phone numbers, the policy, the client-name marker and the severities.
RULES_MAY_IMPORT = {
    "auditkit.severity",
    "auditkit.columns",
    "auditkit.schemas",
    "auditkit.validation",
    "auditkit.text",
    "auditkit.phones",
    "auditkit.policy",
    "auditkit.privacy",
}


def _module_name(path) -> str:
    parts = path.relative_to(SOURCE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in SOURCE.rglob("*.py")}
RULE_MODULES = {name for name in MODULES if name.startswith("auditkit.rules")}


def _imports(name: str) -> set[str]:
    """The auditkit modules `name` imports anywhere in its code (in a function too, and under
    TYPE_CHECKING: a dependency for the reader either way)."""
    found = set()
    for node in ast.walk(ast.parse(MODULES[name].read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:  # `from auditkit import text` imports a module
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in MODULES else node.module)
    return {module for module in found if module in MODULES and module != name}


GRAPH = {name: _imports(name) for name in MODULES}


def _reachable(name: str) -> set[str]:
    seen, todo = set(), [name]
    while todo:
        for module in GRAPH[todo.pop()] - seen:
            seen.add(module)
            todo.append(module)
    return seen


def test_every_module_is_placed_in_a_layer():
    assert set(MODULES) == TOOLS | PIPELINE | RULE_MODULES
    assert not TOOLS & PIPELINE


def test_the_import_graph_is_read_from_the_source():
    # A check of the reader itself, so the layer tests below cannot pass on an empty graph.
    assert GRAPH["auditkit.cli"] >= {"auditkit.auditing", "auditkit.report", "auditkit.startup"}
    assert GRAPH["auditkit.rules.iq001_no_neither_confirm_nor_deny_reply"] == {
        "auditkit.columns",
        "auditkit.rules.base",
        "auditkit.rules.context",
    }
    assert "auditkit.privacy" in GRAPH["auditkit.rules.context"]
    assert "auditkit.xlsx" in _reachable("auditkit.dashboard")


def test_loading_rules_and_the_audit_never_import_a_report_a_widget_or_the_cli():
    below = PIPELINE | RULE_MODULES
    reached = {name: sorted(_reachable(name) & TOOLS) for name in sorted(below)}
    assert {name: tools for name, tools in reached.items() if tools} == {}


def test_rules_use_only_each_other_the_text_patterns_the_policy_and_the_tables():
    outside = {
        name: sorted(GRAPH[name] - RULE_MODULES - RULES_MAY_IMPORT) for name in sorted(RULE_MODULES)
    }
    assert {name: modules for name, modules in outside.items() if modules} == {}


def test_loading_and_parsing_know_nothing_of_rules_or_the_audit():
    for name in ("auditkit.parsing", "auditkit.loading", "auditkit.validation"):
        assert not _reachable(name) & (RULE_MODULES | {"auditkit.auditing", "auditkit.reviews"})


def test_an_audit_from_python_brings_in_no_report_widget_chart_or_cli():
    program = (
        "import sys, auditkit\n"
        f"result = auditkit.audit(auditkit.load({str(SAMPLE)!r}))\n"
        "assert len(result.findings) > 0\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    )
    loaded = set(done.stdout.split())
    assert loaded & TOOLS == set()
    assert {"altair", "vl_convert", "ipywidgets", "IPython", "distributed"} & loaded == set()
    assert {"auditkit.auditing", "auditkit.rules.context", "pandera"} <= loaded


def test_the_command_answers_help_and_version_before_importing_pandas():
    """`auditkit --help`, `--version` and a mistyped command line are answered at once: what
    the parser offers (severities, preset names) comes from modules that import nothing heavy."""
    program = (
        "import sys\n"
        "from auditkit.cli import build_parser\n"
        "build_parser()\n"
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('pandas', 'pandera', 'pyarrow', 'numpy') or m.startswith('auditkit'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == [
        "auditkit",
        "auditkit.cli",
        "auditkit.errors",
        "auditkit.months",
        "auditkit.presets",
        "auditkit.severity",
    ]
