"""Errors a user can act on: the CLI prints their message as one paragraph and exits 2."""


class AuditkitError(Exception):
    """Bad input or usage that stops the run; the message says what to fix."""

    def _render_traceback_(self) -> list[str]:
        """What a notebook shows for it (IPython's hook for an exception that renders itself):
        its message, as the CLI prints it, not frames of auditkit's code that the reader
        cannot act on."""
        return [f"{type(self).__name__}: {self}"]


class BundleError(AuditkitError):
    """A table cannot be used at all: missing, unreadable, empty, or lacking a required column."""


class PolicyError(AuditkitError):
    """The policy file has an unknown key or a bad value."""


class MappingError(AuditkitError):
    """An import mapping (a preset or a --mapping file) has an unknown key or a bad value."""


class OutputError(AuditkitError, OSError):
    """An output file could not be written (a full disk, a folder that can't be made): said in
    words like any AuditkitError, and an OSError still, for code that handles those."""
