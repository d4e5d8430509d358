"""While a run is in progress its metrics carry what it expects to read in all, so clients
(the dashboard) can show how far along it is: a file run the bytes of its selected files, a
source with a row estimate (PostgreSQL's planner) that estimate."""

from __future__ import annotations

from sluice.connectors.reading import ReadProgress, SourceFile
from sluice.engine.metrics import RunMetrics, with_estimates

FILES = [SourceFile("a.csv", 1_000, 0.0), SourceFile("b.csv", 3_000, 0.0)]


def test_a_file_run_in_progress_reports_the_bytes_it_will_read() -> None:
    metrics = RunMetrics(window=None, started_at=0, input_bytes=1_000)
    wire = with_estimates(metrics.wire("inProgress"), ReadProgress(files=FILES), True)
    assert wire["sizeSummary"] == {"inputBytes": 1_000, "outputBytes": 0,
                                   "extensions": {"expectedInputBytes": 4_000}}
    assert wire["recordSummary"] == metrics.wire("inProgress")["recordSummary"]


def test_a_row_estimate_is_reported_and_a_source_without_totals_reports_none() -> None:
    wire = RunMetrics(window=None, started_at=0).wire("inProgress")
    estimated = with_estimates(wire, ReadProgress(expected_records=480), False)
    assert estimated["recordSummary"]["extensions"] == {"expectedInputRecordCount": 480}
    assert "extensions" not in estimated["sizeSummary"]
    assert with_estimates(wire, ReadProgress(files=FILES), False) == wire
    assert with_estimates(wire, ReadProgress(), True) == wire
