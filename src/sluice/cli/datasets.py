"""`sluice datasets preview|history ID`: a dataset's first rows and its Delta commits."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from sluice.cli.list_options import RowsLimitOption
from sluice.cli.output import OutputFormat, OutputOption, console, print_items, print_json
from sluice.cli.output import reported_errors as api_errors
from sluice.cli.remote import DEFAULT_URL, CredentialsOption, UrlOption, open_client
from sluice.cli.run_views import iso_ms

DatasetId = Annotated[str, typer.Argument(help="Dataset id.")]
# Delta's names for the rows a commit added, by operation (write, merge, delete...).
_ADDED_ROWS = (
    "numOutputRows",
    "num_added_rows",
    "numTargetRowsInserted",
    "num_target_rows_inserted",
)
_ADDED_FILES = ("numFiles", "num_added_files", "numTargetFilesAdded", "num_target_files_added")


def _first_number(metrics: dict[str, Any], names: tuple[str, ...]) -> str:
    for name in names:
        value = metrics.get(name)
        if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
            return f"{int(value):,}"
    return ""


def preview_dataset(
    dataset_id: DatasetId,
    limit: RowsLimitOption = 20,
    output: OutputOption = OutputFormat.table,
    url: UrlOption = DEFAULT_URL,
    credentials: CredentialsOption = None,
) -> None:
    """The dataset's first rows with its columns and their types (in the order the table's
    files are stored, which is roughly the order the runs wrote them)."""
    with api_errors(), open_client(url, credentials) as client:
        dataset = client.datasets.get(dataset_id)
        result = client.datasets.preview(dataset_id, limit=limit)
    if output is OutputFormat.json:
        print_json(result)
        return
    columns = result.get("columns") or []
    rows = result.get("rows") or []
    # Keyed by position: a column name may hold a dot, which the table printer reads as a path.
    keyed = [{str(i): row.get(c["name"]) for i, c in enumerate(columns)} for row in rows]
    headers = tuple((f"{c['name']}\n{c.get('type', '')}", str(i)) for i, c in enumerate(columns))
    name = dataset.get("name") or dataset_id
    print_items(keyed, headers, output, title=f"{name}: first {len(rows):,} rows")
    if not columns:
        console.print("Nothing written yet: the dataset's table has no commit.")


def dataset_history(
    dataset_id: DatasetId,
    limit: RowsLimitOption = 20,
    output: OutputOption = OutputFormat.table,
    url: UrlOption = DEFAULT_URL,
    credentials: CredentialsOption = None,
) -> None:
    """The dataset's Delta commits, newest first: version, time (UTC), operation, rows and
    files added."""
    with api_errors(), open_client(url, credentials) as client:
        commits = client.datasets.history(dataset_id, limit=limit)
    if output is OutputFormat.json:
        print_json(commits)
        return
    rows = []
    for commit in commits:
        metrics = commit.get("operationMetrics") or {}
        rows.append(
            {
                "version": str(commit.get("version", "")),
                "time": iso_ms(commit.get("timestamp")),
                "operation": str(commit.get("operation", "")),
                "rows": _first_number(metrics, _ADDED_ROWS),
                "files": _first_number(metrics, _ADDED_FILES),
                "run": str(commit.get("runId") or ""),
            }
        )
    columns = [
        ("Version", "version"),
        ("Time (UTC)", "time"),
        ("Operation", "operation"),
        ("Rows added", "rows"),
        ("Files added", "files"),
    ]
    if any(r["run"] for r in rows):
        columns.append(("Run", "run"))
    print_items(rows, tuple(columns), output, title=f"History of dataset {dataset_id}")
