"""How the dashboard writes values, and the runs chart's geometry (pure functions)."""

from __future__ import annotations

from sluice.services.dashboard_runs import RunRow
from sluice.ui.charts import nice_ceiling, runs_chart
from sluice.ui.formatting import (
    compact_utc,
    duration,
    input_value,
    parse_input_value,
    rate,
    schedule,
    size,
)


def run(run_id: str, status: str, records: int, started: int | None, completed: int | None,
        failed: int = 0) -> RunRow:
    return RunRow(id=run_id, flow_id="f", status=status, origin="onDemand", window_start=0,
                  window_end=60, created_at=started or 0, started_at=started,
                  completed_at=completed, input_records=records + failed,
                  output_records=records, failed_records=failed, input_bytes=0,
                  output_bytes=0, input_files=0, output_files=0, delta_version=None)


def test_datetime_inputs_are_read_and_written_as_utc() -> None:
    assert input_value(1_714_521_600) == "2024-05-01 00:00"
    assert parse_input_value("2024-05-01 00:00") == 1_714_521_600
    assert parse_input_value("2024-05-01T00:00") == 1_714_521_600
    assert parse_input_value("2024-05-01T00:00:30") == 1_714_521_630
    assert parse_input_value("") is None and parse_input_value("yesterday") is None
    assert compact_utc(1_714_521_600_000) == "2024-05-01 00:00"
    assert compact_utc(1_714_521_630_000) == "2024-05-01 00:00:30"


def test_sizes_durations_and_schedules_read_naturally() -> None:
    assert [size(v) for v in (0, 1023, 1536, 5 * 1024**3)] == ["0 B", "1023 B", "1.5 KB",
                                                               "5.0 GB"]
    assert [duration(v) for v in (None, 250, 1500, 125_000, 7_500_000)] == [
        "—", "250 ms", "1.5 s", "2 min 5 s", "2 h 5 min"]
    assert schedule({"startTime": 1_714_521_600, "frequency": "once"}) == (
        "once, at 2024-05-01 00:00:00 UTC")
    assert schedule({"startTime": 1_714_521_600, "frequency": "minute", "interval": 15,
                     "backfill": True}) == (
        "every 15 minutes from 2024-05-01 00:00:00 UTC, with backfill")
    assert schedule({"startTime": 1_714_521_600, "frequency": "day", "interval": 1}) == (
        "every day from 2024-05-01 00:00:00 UTC")


def test_axis_tops_are_round_numbers_with_round_quarters() -> None:
    assert [nice_ceiling(v) for v in (0, 1, 3, 7, 58, 500, 1001)] == [
        1, 1, 4, 8, 60, 600, 2000]


def test_chart_draws_runs_oldest_first_with_bars_and_a_duration_line() -> None:
    assert runs_chart([]) is None
    newest_first = [run("c", "inProgress", 10, 5_000, None),
                    run("b", "failed", 0, 3_000, 4_000, failed=20),
                    run("a", "success", 40, 1_000, 1_500)]
    chart = runs_chart(newest_first)
    assert chart is not None
    assert [bar.status for bar in chart.bars] == ["success", "failed", "inProgress"]
    assert [bar.x for bar in chart.bars] == sorted(bar.x for bar in chart.bars)
    # The tallest bar (40 records) reaches 40/40 of the plot; the failed run's 20 half of it.
    tallest, failed = chart.bars[0], chart.bars[1]
    assert tallest.y == chart.top and failed.height * 2 == tallest.height
    assert "20 failed" in failed.title
    assert len(chart.dots) == 3 and chart.line.count(",") == 3
    assert chart.record_ticks[-1].label == "40" and chart.record_ticks[0].label == "0"


def test_small_charts_repeat_no_axis_label_and_one_run_has_one_time_label() -> None:
    chart = runs_chart([run("only", "success", 1, 1_000, 1_002)])
    assert chart is not None
    labels = [t.label for t in chart.record_ticks if t.label]
    assert labels == ["0", "1", "2", "3", "4"]  # not 0, 0, 0, 0, 1
    durations = [t.label for t in chart.duration_ticks if t.label]
    assert len(durations) == len(set(durations)) >= 2
    assert chart.first_label and chart.last_label == ""


def test_a_run_row_reads_its_progress_estimate_and_rate() -> None:
    row = RunRow(id="r", flow_id="f", status="inProgress", origin="onDemand", window_start=0,
                 window_end=60, created_at=0, started_at=0, completed_at=2_000,
                 input_records=500, output_records=500, failed_records=0, input_bytes=1_000,
                 output_bytes=0, input_files=2, output_files=0, delta_version=None,
                 expected_input_bytes=4_000)
    assert row.share_read == 0.25 and row.rows_per_second == 250.0
    assert rate(row.rows_per_second) == "250" and rate(2.5) == "2.5" and rate(None) == "—"
