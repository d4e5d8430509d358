"""A run's counters and how they read on the wire (`metrics` and `activities`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sluice.connectors.reading import BadRow, ReadProgress, SourceFile
from sluice.domain.windows import Window
from sluice.lake.writer import CommitResult

BAD_ROWS_IN_MEMORY = 1000


@dataclass
class RunMetrics:
    window: Window | None
    started_at: int
    input_records: int = 0
    output_records: int = 0
    failed_records: int = 0
    input_bytes: int = 0
    output_bytes: int = 0
    output_files: int = 0
    input_files: list[SourceFile] = field(default_factory=list)
    bad_rows: list[BadRow] = field(default_factory=list)
    # A re-trigger that found its input committed by this earlier run of its chain.
    landed_by_run: str | None = None
    # Sluice extensions of the wire metrics: warnings of a successful run, and what the
    # source held against what landed (sluice.engine.reconciliation).
    warnings: list[dict[str, str]] = field(default_factory=list)
    reconciliation: dict[str, Any] | None = None
    # The flow's minRowsPerRun expectation was missed by this (successful) run.
    expectation_failed: bool = False

    @property
    def reconciled(self) -> bool | None:
        """True matched, False mismatched, None not reconciled."""
        return None if self.reconciliation is None else bool(self.reconciliation["matched"])

    def add_batch(
        self, input_rows: int, output_rows: int, bad_rows: list[BadRow], input_bytes: int
    ) -> None:
        self.input_records += input_rows
        self.output_records += output_rows
        self.input_bytes += input_bytes
        self._add_bad(bad_rows)

    def add_read_bad_rows(self, bad_rows: list[BadRow]) -> None:
        """Rows the reader could not parse at all: they never reached a batch."""
        self.input_records += len(bad_rows)
        self._add_bad(bad_rows)

    def _add_bad(self, bad_rows: list[BadRow]) -> None:
        self.failed_records += len(bad_rows)
        room = BAD_ROWS_IN_MEMORY - len(self.bad_rows)
        if room > 0:
            self.bad_rows.extend(bad_rows[:room])

    def failed_share_percent(self) -> float:
        if self.input_records == 0:
            return 0.0
        return 100.0 * self.failed_records / self.input_records

    def partial_errors(self) -> list[dict[str, str]]:
        """A successful run with failed rows still says so (partial ingestion)."""
        if not self.failed_records:
            return []
        return [
            {
                "code": "INGEST-1212-400",
                "message": f"Encountered {self.failed_records} errors in the data. Successfully "
                f"ingested {self.output_records} rows.",
            }
        ]

    def record_commit(self, commit: CommitResult, *, files: list[SourceFile]) -> None:
        self.input_files = list(files)
        if commit.committed_by_run is not None:
            # A re-trigger whose input an earlier run of its chain had committed: this run
            # lands nothing, and its counters say so.
            self.landed_by_run = commit.committed_by_run
            self.output_records = 0
            self.output_bytes = 0
            self.output_files = 0
            return
        if commit.already_committed:
            # An earlier attempt committed this run and died before recording it: that commit
            # is the run's output (this attempt read nothing).
            self.output_records = commit.rows_written
            self.input_records = max(self.input_records, commit.rows_written)
        self.output_bytes = commit.bytes_written
        self.output_files = commit.files_added

    def wire(
        self,
        status: str,
        *,
        errors: list[dict[str, str]] | None = None,
        completed_at: int | None = None,
    ) -> dict[str, Any]:
        duration: dict[str, Any] = {"startedAtUTC": self.started_at}
        if completed_at is not None:
            duration["completedAtUTC"] = completed_at
        wire: dict[str, Any] = {
            "durationSummary": duration,
            "sizeSummary": {"inputBytes": self.input_bytes, "outputBytes": self.output_bytes},
            "recordSummary": {
                "inputRecordCount": self.input_records,
                "outputRecordCount": self.output_records,
                "failedRecordCount": self.failed_records,
            },
            "fileSummary": {
                "inputFileCount": len(self.input_files),
                "outputFileCount": self.output_files,
                "activityRefs": ["promotionActivity"],
            },
            "statusSummary": {
                "status": status,
                "errors": list(errors or []),
                "activityRefs": ["copyActivity", "promotionActivity"],
            },
        }
        if self.warnings:
            wire["warnings"] = list(self.warnings)
        if self.reconciliation is not None:
            wire["reconciliation"] = dict(self.reconciliation)
        return wire

    def activities(
        self,
        *,
        status: str,
        completed_at: int,
        dataset_id: str,
        target_connection_id: str,
        commit: CommitResult | None,
        errors: list[dict[str, str]],
    ) -> list[dict[str, Any]]:
        window: dict[str, Any] = {}
        if self.window is not None:
            window = {"windowStart": self.window.start * 1000, "windowEnd": self.window.end * 1000}
        duration = {"startedAtUTC": self.started_at, "completedAtUTC": completed_at}
        copy = {
            "id": "copyActivity",
            "name": "Copy Activity",
            "updatedAtUTC": completed_at,
            "durationSummary": {**duration, "extensions": window},
            "sizeSummary": {"inputBytes": self.input_bytes, "outputBytes": self.input_bytes},
            "recordSummary": {
                "inputRecordCount": self.input_records,
                "outputRecordCount": self.input_records - self.failed_records,
                "failedRecordCount": self.failed_records,
            },
            "fileSummary": {
                "inputFileCount": len(self.input_files),
                "extensions": {"files": [f.path for f in self.input_files[:100]]},
            },
            "statusSummary": {
                "status": status,
                "errors": errors,
                "extensions": {"type": "window" if self.window else "full"},
            },
        }
        version = commit.version if commit else None
        promoted: dict[str, Any] = {"dataSetId": dataset_id, "deltaVersion": version}
        if self.landed_by_run is not None:
            promoted["landedByRun"] = self.landed_by_run
        promotion = {
            "id": "promotionActivity",
            "name": "Delta Promotion Activity",
            "updatedAtUTC": completed_at,
            "durationSummary": duration,
            "sizeSummary": {"outputBytes": self.output_bytes},
            "recordSummary": {"outputRecordCount": self.output_records},
            "fileSummary": {"outputFileCount": self.output_files},
            "statusSummary": {
                "status": status,
                "errors": errors,
                "extensions": promoted,
            },
            "targetInfo": [
                {
                    "id": target_connection_id,
                    "type": "TargetConnection",
                    "reference": {
                        "type": "DeltaVersion",
                        "ids": [] if version is None else [version],
                    },
                }
            ],
        }
        return [copy, promotion]


def with_estimates(
    wire: dict[str, Any], progress: ReadProgress, is_file_source: bool
) -> dict[str, Any]:
    """While a run is in progress, what it expects to read in all, so a client can show how
    far along it is: for files the sizes of the files it selected (known before the first
    batch), `sizeSummary.extensions.expectedInputBytes`; for a source that estimates rows
    (PostgreSQL's planner), `recordSummary.extensions.expectedInputRecordCount`."""
    if is_file_source and progress.files:
        expected = sum(f.size for f in progress.files)
        sizes = {**wire["sizeSummary"], "extensions": {"expectedInputBytes": expected}}
        wire = {**wire, "sizeSummary": sizes}
    if progress.expected_records is not None:
        records = {
            **wire["recordSummary"],
            "extensions": {"expectedInputRecordCount": progress.expected_records},
        }
        wire = {**wire, "recordSummary": records}
    return wire
