"""What each integration adds to the recorder's SQLite database (``scripts/bench-ha``).

The recorder writes a bus event as a row of ``events`` (and its data as a row of
``event_data``, shared by identical data) and a state as a row of ``states`` (and its
attributes as a row of ``state_attributes``, shared by identical attributes). Rows are
attributed to a side by what they belong to: states by entity id, bus events by the
``call_id`` prefix in their data, shared rows (attributes, event data) by the side's rows
that refer to them, if they are new since the mark taken before the side's phase.

A row's bytes are its record and the records of its index entries as SQLite's file format
encodes them (a header of serial types, the values; the rowid; an ``INTEGER PRIMARY KEY``
stored as the rowid), without page headers, cell pointers, free space or the WAL's copies:
what the row itself costs, the same way for both sides.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

# The tables a state or an event fills, with their primary keys.
TABLES: Final = {
    "states": "state_id",
    "state_attributes": "attributes_id",
    "events": "event_id",
    "event_data": "data_id",
}
EVENT_TYPE: Final = "wgtwo_event"


def varint_size(value: int) -> int:
    """Bytes of SQLite's variable-length integer (1 to 9) for a value (as 64-bit unsigned)."""
    value &= 0xFFFF_FFFF_FFFF_FFFF
    if value > 0x00FF_FFFF_FFFF_FFFF:
        return 9
    size = 1
    while value > 0x7F:
        value >>= 7
        size += 1
    return size


def serial_type(value: Any) -> tuple[int, int]:
    """SQLite's serial type of a value and the bytes of its content (file format 4)."""
    if value is None:
        return 0, 0
    if isinstance(value, int):
        if value in (0, 1):
            return 8 + value, 0
        for serial, size in ((1, 1), (2, 2), (3, 3), (4, 4), (5, 6)):
            if -(1 << (8 * size - 1)) <= value < 1 << (8 * size - 1):
                return serial, size
        return 6, 8
    if isinstance(value, float):
        return 7, 8
    if isinstance(value, str):
        size = len(value.encode())
        return 13 + 2 * size, size
    if isinstance(value, bytes):
        return 12 + 2 * len(value), len(value)
    raise TypeError(f"not an SQLite value: {type(value).__name__}")


def record_size(values: Iterable[Any]) -> int:
    """Bytes of a record: header (its own size, a serial type per value) and the values."""
    types = [serial_type(value) for value in values]
    header = sum(varint_size(serial) for serial, _ in types)
    header += varint_size(header + 1)
    return header + sum(size for _, size in types)


@dataclass(frozen=True, slots=True)
class TableLayout:
    """How a table's rows are stored: its columns, its rowid alias and its indexes."""

    columns: tuple[str, ...]
    rowid_alias: str | None
    indexes: tuple[tuple[str, ...], ...]

    def row_bytes(self, row: Sequence[Any], rowid: int) -> int:
        """Bytes of the table's cell of a row and of the cells of its index entries."""
        values = [
            None if name == self.rowid_alias else value
            for name, value in zip(self.columns, row, strict=True)
        ]
        record = record_size(values)
        total = varint_size(record) + varint_size(rowid) + record
        by_name = dict(zip(self.columns, row, strict=True))
        for index in self.indexes:
            entry = record_size([*(by_name[name] for name in index), rowid])
            total += varint_size(entry) + entry
        return total


def table_layout(db: sqlite3.Connection, table: str) -> TableLayout:
    """Read a table's columns and indexes from the database."""
    info = db.execute(f"PRAGMA table_info({table})").fetchall()
    columns = tuple(str(row[1]) for row in info)
    keys = [row for row in info if row[5]]
    alias = str(keys[0][1]) if len(keys) == 1 and str(keys[0][2]).upper() == "INTEGER" else None
    indexes = []
    for index in db.execute(f"PRAGMA index_list({table})").fetchall():
        names = tuple(str(row[2]) for row in db.execute(f"PRAGMA index_info({index[1]})"))
        if names and all(name in columns for name in names):
            indexes.append(names)
    return TableLayout(columns, alias, tuple(indexes))


@dataclass
class Usage:
    """Rows and bytes one side added, per table."""

    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    bytes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))

    def add(self, other: Usage) -> None:
        """Add another phase's usage to this one."""
        for table in TABLES:
            self.rows[table] += other.rows[table]
            self.bytes[table] += other.bytes[table]

    @property
    def total_bytes(self) -> int:
        """Bytes over every table."""
        return sum(self.bytes.values())

    def describe(self, events: int) -> str:
        """Per event: bytes in all, then rows and bytes of each table."""
        parts = ", ".join(
            f"{table} {self.rows[table] / events:.2f} rows {self.bytes[table] / events:.0f} B"
            for table in TABLES
        )
        return f"{self.total_bytes / events:.0f} bytes per event ({parts})"


class RecorderDatabase:
    """The recorder's database, read-only, while Home Assistant writes it."""

    def __init__(self, path: Path) -> None:
        """Open it (it must exist: the recorder creates it at start)."""
        self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        self.layouts = {table: table_layout(self.db, table) for table in TABLES}

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    def marks(self) -> dict[str, int]:
        """Return the highest primary key of each table now: rows above it are new."""
        marks = {}
        for table, key in TABLES.items():
            query = f"SELECT coalesce(max({key}), 0) FROM {table}"  # noqa: S608
            marks[table] = int(self.db.execute(query).fetchone()[0])
        return marks

    def usage(
        self, marks: dict[str, int], entity_ids: Collection[str], call_prefix: str
    ) -> tuple[Usage, int]:
        """Count what was added since ``marks`` for these entities and calls' bus events.

        Returns the usage and how many of the bus events it counted.
        """
        usage = Usage()
        metadata_ids = {
            int(row[0])
            for row in self.db.execute("SELECT metadata_id, entity_id FROM states_meta")
            if row[1] in entity_ids
        }
        states = self._new_rows("states", marks)
        layout = self.layouts["states"]
        meta, attrs = layout.columns.index("metadata_id"), layout.columns.index("attributes_id")
        attributes_ids: set[int] = set()
        for rowid, row in states:
            if row[meta] in metadata_ids:
                self._count(usage, "states", row, rowid)
                if row[attrs] is not None:
                    attributes_ids.add(int(row[attrs]))
        for rowid, row in self._new_rows("state_attributes", marks):
            if rowid in attributes_ids:
                self._count(usage, "state_attributes", row, rowid)
        data = dict(self._new_rows("event_data", marks))
        shared = self.layouts["event_data"].columns.index("shared_data")
        type_ids = {
            int(row[0])
            for row in self.db.execute(
                "SELECT event_type_id FROM event_types WHERE event_type = ?", (EVENT_TYPE,)
            )
        }
        layout = self.layouts["events"]
        kind, data_id = layout.columns.index("event_type_id"), layout.columns.index("data_id")
        counted: set[int] = set()
        events = 0
        for rowid, row in self._new_rows("events", marks):
            if row[kind] not in type_ids:
                continue
            shared_row = data.get(row[data_id]) if row[data_id] is not None else None
            text = shared_row[shared] if shared_row is not None else self._data(row[data_id])
            if not str(json.loads(text or "{}").get("call_id", "")).startswith(call_prefix):
                continue
            events += 1
            self._count(usage, "events", row, rowid)
            if shared_row is not None and row[data_id] not in counted:
                counted.add(row[data_id])
                self._count(usage, "event_data", shared_row, row[data_id])
        return usage, events

    def _new_rows(self, table: str, marks: dict[str, int]) -> list[tuple[int, tuple[Any, ...]]]:
        key = TABLES[table]
        return [
            (int(row[0]), tuple(row[1:]))
            for row in self.db.execute(
                f"SELECT {key}, * FROM {table} WHERE {key} > ? ORDER BY {key}",  # noqa: S608
                (marks[table],),
            )
        ]

    def _data(self, data_id: int | None) -> str | None:
        if data_id is None:
            return None
        row = self.db.execute(
            "SELECT shared_data FROM event_data WHERE data_id = ?", (data_id,)
        ).fetchone()
        return None if row is None else str(row[0])

    def _count(self, usage: Usage, table: str, row: Sequence[Any], rowid: int) -> None:
        usage.rows[table] += 1
        usage.bytes[table] += self.layouts[table].row_bytes(row, rowid)
