"""What the notebooks share: charts drawn offline and kept on this machine, and notes that wrap."""

from __future__ import annotations

import html

import altair as alt

# vega-embed's options for every chart widget. Its "…" actions menu is off: "Open in Vega Editor"
# would post the chart, data and all (clinician names, compliance), to a website.
EMBED_OPTIONS = {"actions": False}


def jupyter_chart(chart: alt.TopLevelSpec) -> alt.JupyterChart:
    """An altair chart as a widget that renders offline (vega bundled by vl-convert, no CDN) and
    offers no way to send it off the machine. The options belong to the widget, not the spec, so
    they hold when its ``.chart`` is replaced."""
    alt.JupyterChart.enable_offline()
    return alt.JupyterChart(chart, embed_options=EMBED_OPTIONS)


# The widgets' own style blocks (inside a widget no notebook or page style reaches a table):
# severity badges in the report's colours (templates/report.html's --high, --medium, --low), and
# tables with a light header band and a thin line under each row.
SEVERITY_COLOURS = {"high": "#b42318", "medium": "#b54708", "low": "#475467"}
SEVERITY_BADGES = (
    ".auditkit-sev { border-radius: 8px; padding: 0 6px; font-size: 12px; color: #fff; }\n"
    + "".join(
        f".auditkit-sev-{severity} {{ background: {colour}; }}\n"
        for severity, colour in SEVERITY_COLOURS.items()
    )
)


def table_rules(scope: str, padding: str) -> str:
    """CSS for the tables inside the elements `scope` selects: collapsed borders, the header on
    a light band, `padding` in each cell and a thin line under it."""
    return (
        f"{scope} table {{ border-collapse: collapse; }}\n"
        f"{scope} th {{ background: #f2f4f7; }}\n"
        f"{scope} th, {scope} td {{ padding: {padding}; border-bottom: 1px solid #e4e7ec; }}\n"
    )


# Lines keep their own line breaks and wrap at spaces; a long id or path breaks anywhere rather
# than run off the right edge.
NOTE_STYLE = "white-space: pre-wrap; overflow-wrap: anywhere; margin: 0 0 0.5em"


class Notes:
    """Notes for a notebook to show as wrapped paragraphs: print() sets them in fixed-width
    lines that run off the right edge of the page or break mid-word."""

    def __init__(self, *lines: str) -> None:
        self.lines = lines

    def _repr_html_(self) -> str:
        return "".join(f'<p style="{NOTE_STYLE}">{html.escape(line)}</p>' for line in self.lines)

    def __repr__(self) -> str:  # a console's view, and a notebook's text/plain
        return "\n\n".join(self.lines)
