"""`bounded`: a reader's batches cut to at most N rows, in equal slices (the Delta writer takes
a full slice followed by a tiny remainder with twice the memory, bench/README.md)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from sluice.connectors.batching import bounded


@pytest.mark.parametrize(("rows", "limit", "sizes"), [
    (65_759, 65_536, [32_880, 32_879]),  # not 65,536 + 223
    (10, 3, [3, 3, 2, 2]),
    (131_072, 65_536, [65_536, 65_536]),
    (5, 5, [5]),
    (1, 1, [1]),
    (0, 5, []),  # an empty batch is dropped
])
def test_batches_are_cut_in_equal_slices_of_at_most_the_limit(
    rows: int, limit: int, sizes: list[int]
) -> None:
    batch = pa.record_batch([pa.array(range(rows))], names=["x"])
    slices = list(bounded([batch, batch], limit))
    assert [s.num_rows for s in slices] == sizes * 2
    assert [v for s in slices for v in s.column(0).to_pylist()] == list(range(rows)) * 2
