"""Debian's Chromium for the browser tests: where it is and how it starts (never downloaded),
and what axe-core finds on a page."""

from pathlib import Path

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

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


def accessibility_violations(page: Page) -> dict[str, list[str]]:
    """What axe-core (the engine browsers' accessibility checkers run) finds wrong on the page,
    WCAG 2.x A and AA and its best practices: each rule broken, with the elements breaking it."""
    found = Axe().run(page).response["violations"]
    return {rule["id"]: [str(node["target"]) for node in rule["nodes"]] for rule in found}
