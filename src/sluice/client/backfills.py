"""`client.backfills`: plan, create, follow and steer backfills (a Sluice extension)."""

from __future__ import annotations

from typing import Any

from sluice.client.resources import Created, ReadableCollection
from sluice.client.transport import JsonObject


class Backfills(ReadableCollection):
    def _body(
        self,
        flow_id: str,
        window_start: int,
        window_end: int,
        unit: str,
        size: int,
        parallelism: int,
        delta_column: str | None,
        dry_run: bool,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "flowId": flow_id,
            "windowStartTime": window_start,
            "windowEndTime": window_end,
            "chunk": {"unit": unit, "size": size},
            "parallelism": parallelism,
            "dryRun": dry_run,
        }
        if delta_column:
            body["deltaColumn"] = {"name": delta_column}
        return body

    def create(
        self,
        flow_id: str,
        *,
        window_start: int,
        window_end: int,
        unit: str = "day",
        size: int = 1,
        parallelism: int = 1,
        delta_column: str | None = None,
    ) -> Created:
        """A backfill of `[window_start, window_end)` (epoch seconds) in chunks of `size`
        `unit`s (hour, day, week or month, aligned in UTC), at most `parallelism` chunk
        runs at once. `delta_column` only for a table flow that has none yet."""
        body = self._body(
            flow_id, window_start, window_end, unit, size, parallelism, delta_column, False
        )
        return Created.from_body(self.api.post(self.path, body))

    def plan(
        self,
        flow_id: str,
        *,
        window_start: int,
        window_end: int,
        unit: str = "day",
        size: int = 1,
        parallelism: int = 1,
        delta_column: str | None = None,
    ) -> JsonObject:
        """What `create` would do (a dry run): the chunks, with nothing created."""
        body = self._body(
            flow_id, window_start, window_end, unit, size, parallelism, delta_column, True
        )
        result: JsonObject = self.api.post(self.path, body)
        return result

    def pause(self, backfill_id: str) -> Created:
        """Start no more chunk runs; the running ones finish."""
        return self._action(backfill_id, "pause")

    def resume(self, backfill_id: str) -> Created:
        return self._action(backfill_id, "resume")

    def cancel(self, backfill_id: str) -> Created:
        """Start no more chunk runs; cancel the scheduled ones, stop the running ones."""
        return self._action(backfill_id, "cancel")

    def retry(self, backfill_id: str) -> Created:
        """Run the failed chunks of a failed backfill again; succeeded chunks are skipped."""
        return self._action(backfill_id, "retry")

    def _action(self, backfill_id: str, op: str) -> Created:
        return Created.from_body(
            self.api.post(f"{self.path}/{backfill_id}/action", params={"op": op})
        )
