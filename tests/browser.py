"""Debian's Chromium for the browser tests: where it is and how it starts (never downloaded)."""

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
# Headless, and quiet on a machine with no network: no background fetches, updates or sync.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
