"""scripts/bench-ha's database accounting: record sizes as SQLite stores them, attribution."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tools import bench_db


def test_varint_sizes() -> None:
    assert [bench_db.varint_size(v) for v in (0, 127, 128, 16383, 16384)] == [1, 1, 2, 2, 3]
    assert bench_db.varint_size(1 << 56) == 9
    assert bench_db.varint_size(-1) == 9  # negative: 64-bit two's complement


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, (0, 0)),
        (0, (8, 0)),
        (1, (9, 0)),
        (True, (9, 0)),
        (-1, (1, 1)),
        (127, (1, 1)),
        (128, (2, 2)),
        (-32768, (2, 2)),
        (1 << 23, (4, 4)),
        (1 << 40, (5, 6)),
        (1 << 50, (6, 8)),
        (1.5, (7, 8)),
        ("ab", (17, 2)),
        ("é", (17, 2)),  # bytes, not characters
        (b"\x00" * 16, (44, 16)),
    ],
)
def test_serial_types(value: Any, expected: tuple[int, int]) -> None:
    assert bench_db.serial_type(value) == expected


def test_serial_type_rejects_other_values() -> None:
    with pytest.raises(TypeError, match="list"):
        bench_db.serial_type([1])


def _payloads(db: sqlite3.Connection, name: str) -> int:
    return int(db.execute("SELECT sum(payload) FROM dbstat WHERE name = ?", (name,)).fetchone()[0])


def test_record_sizes_match_what_sqlite_stores(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "records.db")
    db.execute(
        "CREATE TABLE t (id INTEGER NOT NULL, name VARCHAR(255), n INTEGER, ts FLOAT, "
        "blob BLOB, PRIMARY KEY (id))"
    )
    db.execute("CREATE INDEX ix_t_n_ts ON t (n, ts)")
    rows = [
        (1, "sensor.alice_last_caller", 0, 1764237600.123, b"\x01" * 16),
        (2, None, 70000, 1.5, None),
        (300, "x" * 200, -5, 2.25, b""),
    ]
    db.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?)", rows)
    db.commit()
    layout = bench_db.table_layout(db, "t")
    assert layout.rowid_alias == "id"
    assert layout.indexes == (("n", "ts"),)
    # The rowid alias is stored as NULL in the record; an index entry ends with the rowid.
    assert sum(bench_db.record_size([None, *row[1:]]) for row in rows) == _payloads(db, "t")
    assert sum(bench_db.record_size([row[2], row[3], row[0]]) for row in rows) == _payloads(
        db, "ix_t_n_ts"
    )
    # A row's bytes: its cell (payload size, rowid, record) and its index entries' cells.
    row = rows[0]
    record = bench_db.record_size([None, *row[1:]])
    entry = bench_db.record_size([row[2], row[3], row[0]])
    assert layout.row_bytes(row, row[0]) == 1 + 1 + record + 1 + entry


def _recorder_db(path: Path) -> sqlite3.Connection:
    """The recorder's tables, with the columns the accounting reads."""
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE states_meta (metadata_id INTEGER NOT NULL, entity_id VARCHAR(255),
            PRIMARY KEY (metadata_id));
        CREATE TABLE state_attributes (attributes_id INTEGER NOT NULL, hash BIGINT,
            shared_attrs TEXT, PRIMARY KEY (attributes_id));
        CREATE INDEX ix_state_attributes_hash ON state_attributes (hash);
        CREATE TABLE states (state_id INTEGER NOT NULL, state VARCHAR(255),
            last_updated_ts FLOAT, attributes_id INTEGER, metadata_id INTEGER,
            PRIMARY KEY (state_id));
        CREATE INDEX ix_states_metadata_id_last_updated_ts ON states (metadata_id, last_updated_ts);
        CREATE TABLE event_types (event_type_id INTEGER NOT NULL, event_type VARCHAR(64),
            PRIMARY KEY (event_type_id));
        CREATE TABLE event_data (data_id INTEGER NOT NULL, hash BIGINT, shared_data TEXT,
            PRIMARY KEY (data_id));
        CREATE TABLE events (event_id INTEGER NOT NULL, time_fired_ts FLOAT, data_id INTEGER,
            event_type_id INTEGER, PRIMARY KEY (event_id));
        INSERT INTO states_meta VALUES (1, 'event.alice_call'), (2, 'sensor.ref_0'),
            (3, 'sun.sun');
        INSERT INTO event_types VALUES (1, 'wgtwo_event'), (2, 'call_service');
        """
    )
    return db


def _add_event(db: sqlite3.Connection, event_id: int, data_id: int, data: dict[str, Any]) -> None:
    db.execute("INSERT OR IGNORE INTO event_data VALUES (?, 0, ?)", (data_id, json.dumps(data)))
    db.execute("INSERT INTO events VALUES (?, 1.0, ?, 1)", (event_id, data_id))


def test_usage_counts_the_rows_of_each_side_since_the_marks(tmp_path: Path) -> None:
    path = tmp_path / "home-assistant_v2.db"
    db = _recorder_db(path)
    # Before the marks: a state and attributes that later rows share.
    db.execute('INSERT INTO state_attributes VALUES (1, 0, \'{"event_type":"ringing"}\')')
    db.execute("INSERT INTO states VALUES (1, 'a', 1.0, 1, 1)")
    db.commit()
    recorder = bench_db.RecorderDatabase(path)
    marks = recorder.marks()
    assert marks == {"states": 1, "state_attributes": 1, "events": 0, "event_data": 0}
    # wgtwo's phase: two states of its entity (one with new attributes, one sharing old
    # ones), a state of another entity, its bus events and one of the other side's.
    db.execute('INSERT INTO state_attributes VALUES (2, 0, \'{"event_type":"ended"}\')')
    db.execute("INSERT INTO state_attributes VALUES (3, 0, '{\"elevation\":1}')")
    db.execute("INSERT INTO states VALUES (2, 'b', 2.0, 2, 1)")
    db.execute("INSERT INTO states VALUES (3, 'c', 3.0, 1, 1)")
    db.execute("INSERT INTO states VALUES (4, 'above', 3.0, 3, 3)")
    _add_event(db, 1, 1, {"call_id": "w-1", "type": "call_ringing"})
    _add_event(db, 2, 2, {"call_id": "w-1", "type": "call_ended"})
    _add_event(db, 3, 3, {"call_id": "r-1", "type": "call_ringing"})
    db.execute("INSERT INTO events VALUES (4, 1.0, NULL, 2)")  # another event type
    db.commit()
    usage, events = recorder.usage(marks, {"event.alice_call"}, "w-")
    assert events == 2
    assert usage.rows == {"states": 2, "state_attributes": 1, "events": 2, "event_data": 2}
    states = recorder.layouts["states"]
    assert usage.bytes["states"] == states.row_bytes((2, "b", 2.0, 2, 1), 2) + states.row_bytes(
        (3, "c", 3.0, 1, 1), 3
    )
    assert usage.total_bytes == sum(usage.bytes.values())
    assert usage.describe(2).startswith(f"{usage.total_bytes / 2:.0f} bytes per event (states 1.00")
    # The other side: its bus event only; an event sharing data written before counts alone.
    marks = recorder.marks()
    _add_event(db, 5, 3, {})
    db.commit()
    other, events = recorder.usage(marks, {"sensor.ref_0"}, "r-")
    assert events == 1
    assert other.rows == {"states": 0, "state_attributes": 0, "events": 1, "event_data": 0}
    usage.add(other)
    assert usage.rows["events"] == 3
    recorder.close()
