"""The import mappings shipped with auditkit (auditkit.importing reads them), named for their
files here. A module with no heavy imports, so the command line can offer the names
(`auditkit import --preset`) without importing pandas first."""

from __future__ import annotations

from importlib.resources import files

FOLDER = files(__name__)
PRESETS: tuple[str, ...] = tuple(
    sorted(p.name.removesuffix(".toml") for p in FOLDER.iterdir() if p.name.endswith(".toml"))
)
