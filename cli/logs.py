"""The command's log: one line per unit of work, on stderr, never on stdout.

The library logs through the standard library's ``logging`` (loggers under ``wmc``, each event
a message such as ``settlement.batch_committed`` with its fields in ``extra={"fields": ...}``)
and installs no handler, so a program that imports :mod:`wmc_ledger` sees nothing it did not
ask for. Only the command installs one (:func:`configure`): JSON lines when stderr is not a
terminal, a console line when it is (coloured unless ``NO_COLOR`` is set, https://no-color.org),
nothing below warnings with ``--quiet``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
from typing import Any, Final

LOGGER: Final = "wmc"

_LEVEL_COLOURS: Final = {"debug": "\x1b[2m", "info": "\x1b[32m", "warning": "\x1b[33m",
                         "error": "\x1b[31m", "critical": "\x1b[31;1m"}
_RESET: Final = "\x1b[0m"


def event(name: str, **fields: Any) -> None:
    """Log the event ``name`` (``init.completed``) with ``fields`` at INFO."""
    logging.getLogger(LOGGER).info(name, extra={"fields": fields})


def no_color() -> bool:
    """Whether colour is turned off: ``NO_COLOR`` set to anything but the empty string."""
    return bool(os.environ.get("NO_COLOR"))


class LineFormatter(logging.Formatter):
    """One line per record: a JSON object, or ``time [level] event key=value ...``."""

    def __init__(self, *, console: bool, colour: bool) -> None:
        super().__init__()
        self.console = console
        self.colour = colour

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = dict(getattr(record, "fields", None) or {})
        level = record.levelname.lower()
        stamp = dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat().replace(
            "+00:00", "Z")
        if not self.console:
            return json.dumps({"event": record.getMessage(), **fields, "level": level,
                               "timestamp": stamp}, ensure_ascii=False, default=str)
        tag = f"[{level:<7}]"
        if self.colour:
            tag = f"{_LEVEL_COLOURS.get(level, '')}{tag}{_RESET}"
        pairs = " ".join(f"{k}={v}" for k, v in fields.items())
        return f"{stamp} {tag} {record.getMessage():<28} {pairs}".rstrip()


class _StderrHandler(logging.Handler):
    """Writes to whatever ``sys.stderr`` is at the time (test runners swap it per command)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:
            self.handleError(record)


def configure(*, quiet: bool = False) -> None:
    """Send the ``wmc`` loggers' events to stderr as one line each (replacing an earlier call's
    handler, so that running several commands in one process does not repeat lines)."""
    reset()
    logger = logging.getLogger(LOGGER)
    console = sys.stderr.isatty()
    handler = _StderrHandler()
    handler.setFormatter(LineFormatter(console=console, colour=console and not no_color()))
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
    logger.propagate = False


def reset() -> None:
    """Take the command's handler off again (a program that ran a command in its own process
    goes back to its own logging configuration)."""
    logger = logging.getLogger(LOGGER)
    for handler in [h for h in logger.handlers if isinstance(h, _StderrHandler)]:
        logger.removeHandler(handler)
    logger.setLevel(logging.NOTSET)
    logger.propagate = True
