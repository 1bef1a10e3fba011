"""Fixtures shared by the streaming tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.data.test_stream import FILES


@pytest.fixture(scope="session")
def shards(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Preprocessed-like files; ``rid`` is the global row id, the other columns derive from it."""
    root = tmp_path_factory.mktemp("shards")
    paths, start = [], 0
    for i, (n, group) in enumerate(FILES):
        rid = np.arange(start, start + n, dtype=np.int32)
        table = pa.table(
            {
                "rid": rid,
                "f1": (rid * 7 % 1000).astype(np.int32),
                "click": (rid % 2).astype(np.float32),
            }
        )
        pq.write_table(table, root / f"part{i}.parquet", row_group_size=group)
        paths.append(root / f"part{i}.parquet")
        start += n
    return paths
