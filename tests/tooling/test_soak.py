"""The soak's bookkeeping: which events were lost or duplicated, and whether that fails it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.soak import Ledger, ProbeFile, format_table, keep_artifacts, sms_event
from wgtwo_sandbox.server import to_event


def _ledger_with_faults() -> Ledger:
    ledger = Ledger()
    ledger.begin("streams ended UNAVAILABLE")
    ledger.publish(["a", "b", "c"])
    ledger.begin("Home Assistant SIGKILL mid-burst + start", duplicates_allowed=True)
    ledger.publish(["d", "e"])
    return ledger


def test_counts_lost_and_duplicated_per_phase() -> None:
    """An id never fired is lost; one fired twice or more is one duplicated event."""
    ledger = _ledger_with_faults()
    for event_id in ["a", "a", "a", "b", "d", "e", "e"]:
        ledger.fire(event_id)

    rows = ledger.rows()

    assert [(row.name, row.published, row.lost, row.duplicated) for row in rows] == [
        ("streams ended UNAVAILABLE", 3, 1, 1),
        ("Home Assistant SIGKILL mid-burst + start", 2, 0, 1),
    ]
    total = ledger.total()
    assert (total.published, total.lost, total.duplicated) == (5, 1, 2)


def test_duplicates_fail_only_outside_a_crash() -> None:
    """A duplicate after the SIGKILL of Home Assistant is allowed; elsewhere it fails."""
    ledger = _ledger_with_faults()
    for event_id in ["a", "b", "c", "d", "d", "e"]:
        ledger.fire(event_id)
    assert ledger.failures() == []

    ledger.fire("b")

    assert ledger.failures() == ["streams ended UNAVAILABLE: 1 events fired more than once"]


def test_a_loss_fails_in_any_phase() -> None:
    """A lost event fails the soak, in the crash phase too."""
    ledger = _ledger_with_faults()
    for event_id in ["a", "b", "c", "d"]:
        ledger.fire(event_id)

    assert ledger.failures() == ["Home Assistant SIGKILL mid-burst + start: 1 events lost"]


def test_a_fire_before_the_publish_answer_counts() -> None:
    """The probe can record an event before the sandbox's answer to its publish arrives."""
    ledger = Ledger()
    ledger.begin("no fault")
    ledger.fire("x")
    assert ledger.unexpected == {"x": 1}

    ledger.publish(["x", "y"])

    assert ledger.unexpected == {}
    assert ledger.waiting == 1
    assert ledger.all_fired(0, 1)
    assert not ledger.all_fired(0, 2)
    ledger.fire("y")
    assert ledger.all_fired(0, 2)
    assert ledger.failures() == []


def test_fires_of_ids_never_published_fail() -> None:
    """An id the soak never published, fired on the bus, is a failure of its own."""
    ledger = Ledger()
    ledger.begin("no fault")
    ledger.fire("stranger")

    assert ledger.failures() == ["1 fires of ids never published"]


def test_publishing_an_id_twice_is_refused() -> None:
    """Every published id is unique, or the counts would mean nothing."""
    ledger = Ledger()
    ledger.begin("no fault")
    ledger.publish(["a"])

    with pytest.raises(ValueError, match="published twice"):
        ledger.publish(["a"])


def test_not_recovered_fails() -> None:
    """A fault the system does not recover from in time fails the soak."""
    ledger = Ledger()
    phase = ledger.begin("stall 40 s")
    phase.recovered = False

    assert ledger.failures() == ["stall 40 s: not recovered within 120 s"]


def test_table_has_a_row_per_fault_and_the_total() -> None:
    """The table shows published, lost, duplicated (marked when allowed) and recovery."""
    ledger = _ledger_with_faults()
    for event_id in ["a", "b", "c", "d", "d", "e"]:
        ledger.fire(event_id)
    ledger.phases[0].recovery = 1.25
    ledger.phases[1].recovery = 9.5

    table = format_table(ledger.rows(), ledger.total())

    assert table.splitlines() == [
        "| fault | published | lost | duplicated | recovery s |",
        "|---|---:|---:|---:|---:|",
        "| streams ended UNAVAILABLE | 3 | 0 | 0 | 1.2 |",
        "| Home Assistant SIGKILL mid-burst + start | 2 | 0 | 1 (allowed) | 9.5 |",
        "| total | 5 | 0 | 1 | 9.5 |",
    ]


def test_probe_file_returns_complete_lines_only(tmp_path: Path) -> None:
    """A line the probe is still writing is returned once it is complete."""
    path = tmp_path / "fired.log"
    probe = ProbeFile(path)
    assert probe.read() == []

    path.write_bytes(b"#ready\nsoak-1\nsoak-")
    assert probe.read() == ["#ready", "soak-1"]
    with path.open("ab") as handle:
        handle.write(b"2\nsoak-3\n")

    assert probe.read() == ["soak-2", "soak-3"]
    assert probe.read() == []


def test_sms_event_is_what_the_sandbox_accepts() -> None:
    """The published event parses as the sandbox's JSON and carries the id twice."""
    event = to_event(sms_event("soak-000001", "+4799910001"))

    assert event.sms_event.id == "soak-000001"
    assert event.sms_event.uuid == "soak-000001"
    assert event.owner.phone_number.e164 == "+4799910001"


def test_a_failed_run_keeps_its_logs(tmp_path: Path) -> None:
    """The table, the timeline and the logs of both processes are copied for CI to keep."""
    workdir = tmp_path / "wgtwo-soak-x"
    (workdir / "config").mkdir(parents=True)
    (workdir / "table.md").write_text("| fault |")
    (workdir / "timeline.log").write_text("0.00 'no fault'")
    (workdir / "config" / "home-assistant.log").write_text("ERROR")

    target = keep_artifacts(workdir, tmp_path / "artifacts")

    assert target == tmp_path / "artifacts" / "wgtwo-soak-x"
    assert sorted(path.name for path in target.iterdir()) == [
        "home-assistant.log",
        "table.md",
        "timeline.log",
    ]
    assert (target / "home-assistant.log").read_text() == "ERROR"


def test_a_fault_injected_again_is_one_row_with_the_longest_recovery() -> None:
    """Rounds of the same fault add up in one row; its recovery is the worst of them."""
    ledger = Ledger()
    for ids, recovery in ((["a", "b"], 2.0), (["c"], 7.5), (["d"], None)):
        ledger.begin("tokens revoked").recovery = recovery
        ledger.publish(ids)
    ledger.begin("no fault")
    ledger.publish(["e"])
    for event_id in ["a", "a", "c", "e"]:
        ledger.fire(event_id)

    rows = ledger.by_fault()

    assert [(r.name, r.runs, r.published, r.lost, r.duplicated, r.recovery) for r in rows] == [
        ("tokens revoked", 3, 4, 2, 1, 7.5),
        ("no fault", 1, 1, 0, 0, None),
    ]
    assert format_table(rows, ledger.total()).splitlines()[2] == (
        "| tokens revoked x3 | 4 | 2 | 1 | 7.5 |"
    )
