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
