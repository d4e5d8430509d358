"""While a file run is in progress its metrics carry the bytes of all its selected files, so
clients (the dashboard) can show how far along it is; table runs and ended runs carry none."""

from __future__ import annotations

from sluice.connectors.reading import SourceFile
from sluice.engine.metrics import RunMetrics, with_size_estimate

FILES = [SourceFile("a.csv", 1_000, 0.0), SourceFile("b.csv", 3_000, 0.0)]


def test_a_file_run_in_progress_reports_the_bytes_it_will_read() -> None:
    metrics = RunMetrics(window=None, started_at=0, input_bytes=1_000)
    wire = with_size_estimate(metrics.wire("inProgress"), FILES, is_file_source=True)
    assert wire["sizeSummary"] == {"inputBytes": 1_000, "outputBytes": 0,
                                   "extensions": {"expectedInputBytes": 4_000}}
    assert wire["recordSummary"] == metrics.wire("inProgress")["recordSummary"]


def test_table_runs_and_runs_without_files_report_no_estimate() -> None:
    wire = RunMetrics(window=None, started_at=0).wire("inProgress")
    assert with_size_estimate(wire, FILES, is_file_source=False) == wire
    assert with_size_estimate(wire, [], is_file_source=True) == wire
