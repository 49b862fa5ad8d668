"""The one exception tree of wmc-ledger.

Every error the library raises on purpose is a :class:`LedgerError`. The CLI turns them into a
message on stderr and an exit code in one place (``cli.main``). Rejections of single items of a
batch are *values* (result codes), not exceptions: see ``ledger.codes``.
"""

from __future__ import annotations

from dataclasses import dataclass


class LedgerError(Exception):
    """Base of every deliberate error; ``exit_code`` is what the CLI exits with."""

    exit_code = 2


@dataclass(frozen=True, slots=True)
class Problem:
    """One bad value of an input: where it is and what was expected there."""

    file: str
    line: int
    field: str
    expected: str

    def __str__(self) -> str:
        # A field name may come from the file itself (an unknown column): never let it put
        # escapes, bidi overrides or surrogates on a terminal.
        field = self.field if self.field.isprintable() else ascii(self.field)[1:-1]
        return f"{self.file}:{self.line}: field '{field}': {self.expected}"


class InputError(LedgerError):
    """Bad input (a file, a value): nothing was written. Lists every problem found."""

    def __init__(self, problems: list[Problem] | str) -> None:
        if isinstance(problems, str):
            self.problems: list[Problem] = []
            super().__init__(problems)
        else:
            self.problems = list(problems)
            super().__init__("\n".join(str(p) for p in self.problems))


class AmountError(LedgerError, ValueError):
    """A value that is not an exact amount of its currency (``"10.005"`` MOP, ``"1e3"``)."""


class UnknownCurrency(LedgerError, ValueError):
    """A currency code the ledger does not keep (``CNH`` is a rate book label, never a currency)."""


class ConflictError(LedgerError):
    """The same key already exists with different content (reference data, entries)."""


class NotFound(LedgerError):
    """A named account, bank, batch or entry does not exist."""


class DatabaseError(LedgerError):
    """The ledger's database cannot be reached or used: a bad or empty URL, a driver that is not
    installed, no ledger at that path (or not initialised), a file that is not a database, a
    server that does not answer, a read-only or full database. The message names the URL with
    any password hidden; nothing was written (the transaction, if one began, rolled back)."""


class IntegrityError(LedgerError):
    """The stored ledger breaks an invariant (Merkle trees, covered rows, balances, totals)."""

    exit_code = 3


class BatchRolledBack(LedgerError):
    """An ``--atomic`` batch had a rejection and was rolled back whole."""

    exit_code = 1
