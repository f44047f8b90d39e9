"""What the notebooks' widgets share: charts drawn offline and kept on this machine."""

from __future__ import annotations

import altair as alt

# vega-embed's options for every chart widget. Its "…" actions menu is off: "Open in Vega Editor"
# would post the chart, data and all (clinician names, compliance), to a website.
EMBED_OPTIONS = {"actions": False}


def jupyter_chart(chart: alt.TopLevelMixin) -> alt.JupyterChart:
    """An altair chart as a widget that renders offline (vega bundled by vl-convert, no CDN) and
    offers no way to send it off the machine. The options belong to the widget, not the spec, so
    they hold when its ``.chart`` is replaced."""
    alt.JupyterChart.enable_offline()
    return alt.JupyterChart(chart, embed_options=EMBED_OPTIONS)
