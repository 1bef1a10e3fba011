"""Loader throughput, the number ``reaction-bench`` reports for the data path.

One shuffled pass over the training split into ready ``Batch`` tensors, from the parquet row
groups (the default) and from the memory-mapped id arrays (``id_arrays=true``), at each worker
count: both paths exist side by side, so their ratio is measured in one run on one machine.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from torch.utils.data import DataLoader

from reaction.data.id_arrays import ensure_id_arrays, split_arrays
from reaction.data.preprocess import PreprocessedData
from reaction.data.stream import ParquetBatchStream

SOURCES = ("parquet", "id_arrays")


def loader_throughput(
    data: PreprocessedData, batch_size: int, workers: Sequence[int]
) -> list[dict[str, float | int | str]]:
    """``{source, workers, rows, rows_per_s}`` per source and worker count (train split)."""
    ensure_id_arrays(data)
    results: list[dict[str, float | int | str]] = []
    for source in SOURCES:
        arrays = [split_arrays(data, "train")] if source == "id_arrays" else None
        for n in workers:
            stream = ParquetBatchStream(
                paths=[data.split_path("train")],
                feature_columns=data.feature_map.field_names,
                label_columns=list(data.feature_map.labels),
                batch_size=batch_size,
                shuffle=True,
                arrays=arrays,
            )
            loader = DataLoader(stream, batch_size=None, num_workers=n)
            start = time.perf_counter()
            rows = sum(len(batch) for batch in loader)
            seconds = time.perf_counter() - start
            results.append(
                {"source": source, "workers": n, "rows": rows, "rows_per_s": rows / seconds}
            )
    return results
