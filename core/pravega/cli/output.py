"""How commands print: rich tables for people, one JSON document with ``--json``."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any

from rich.console import Console
from rich.table import Table


class Output:
    """Results go to stdout, messages and progress to stderr (so ``--json`` output stays parseable)."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.out = Console(highlight=False)
        if not self.out.is_terminal:
            # Piped output: no width limit, so that values (stream cuts) are never cut short.
            self.out = Console(highlight=False, width=100_000)
        self.err = Console(stderr=True, highlight=False)

    def table(self, title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], data: Any) -> None:
        """A listing: ``rows`` for the table, ``data`` for ``--json``."""
        if self.as_json:
            self.json(data)
            return
        table = Table(title=title, title_justify="left")
        for column in columns:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*(str(v) for v in row))
        self.out.print(table)

    def fields(self, title: str, data: dict[str, Any]) -> None:
        """One object: a two-column table of its fields, or the object as JSON."""
        if self.as_json:
            self.json(data)
            return
        rows = [(k, v if isinstance(v, str) else json.dumps(v)) for k, v in data.items()]
        self.table(title, ("field", "value"), rows, data)

    def done(self, message: str, data: dict[str, Any]) -> None:
        """The result of an action."""
        if self.as_json:
            self.json(data)
        else:
            self.out.print(message)

    def json(self, data: Any) -> None:
        sys.stdout.write(json.dumps(data, sort_keys=True) + "\n")
        sys.stdout.flush()

    def line(self, text: str) -> None:
        """One line of a stream's content, unformatted."""
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def error(self, message: str) -> None:
        self.err.print(f"[bold red]error:[/] {message}", markup=True)

    def note(self, message: str) -> None:
        self.err.print(message, markup=False)

    @contextmanager
    def progress(self, message: str) -> Iterator[None]:
        """A spinner on stderr while a long operation runs (only on a terminal)."""
        status = self.err.status(message) if self.err.is_terminal and not self.as_json else nullcontext()
        with status:
            yield
