"""The id-array loader path yields exactly the parquet path's batches (order, rows, dtypes), so
every guarantee of the stream (each row once per epoch over ranks and workers, resume) holds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from reaction.data.batch import Batch
from reaction.data.datamodule import CTRDataModule
from reaction.data.formats.criteo import criteo
from reaction.data.id_arrays import (
    arrays_root,
    ensure_id_arrays,
    split_arrays,
    write_split_arrays,
)
from reaction.data.preprocess import PreprocessConfig
from reaction.data.sources.files import FileSource
from tests.data.format_files import write_lines
from tests.data.test_data_formats_cache import criteo_rows
from tests.data.test_stream import epoch_batches, make_stream

COLUMNS = (["rid", "f1"], ["click"])


@pytest.fixture(scope="module")
def arrays(shards: list[Path], tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, Path]]:
    root = tmp_path_factory.mktemp("arrays")
    pairs = []
    for i, path in enumerate(shards):
        pair = (root / f"{i}.features.npy", root / f"{i}.labels.npy")
        write_split_arrays(path, *COLUMNS, *pair)
        pairs.append(pair)
    return pairs


@pytest.mark.parametrize(
    ("shuffle", "rank", "world_size", "workers", "epoch"),
    [(False, 0, 1, 0, 0), (True, 0, 1, 0, 3), (True, 1, 2, 2, 1), (True, 2, 3, 3, 0)],
)
def test_arrays_give_the_parquet_batches(
    shards: list[Path],
    arrays: list[tuple[Path, Path]],
    shuffle: bool,
    rank: int,
    world_size: int,
    workers: int,
    epoch: int,
) -> None:
    kwargs = {"shuffle": shuffle, "rank": rank, "world_size": world_size, "equal_batches": True}
    from_parquet = make_stream(shards, **kwargs)
    from_arrays = make_stream(shards, arrays=arrays, **kwargs)
    for stream in (from_parquet, from_arrays):
        stream.set_epoch(epoch)
    expected = epoch_batches(from_parquet, workers)
    got = epoch_batches(from_arrays, workers)
    assert len(got) == len(expected) > 0
    for a, b in zip(got, expected, strict=True):
        assert a.features.dtype == torch.int64 and a.labels.dtype == torch.float32
        assert torch.equal(a.features, b.features) and torch.equal(a.labels, b.labels)


def test_arrays_of_another_shape_are_rejected(shards: list[Path], tmp_path: Path) -> None:
    bad = (tmp_path / "f.npy", tmp_path / "y.npy")
    np.save(bad[0], np.zeros((3, 2), dtype=np.int32))
    np.save(bad[1], np.zeros((3, 1), dtype=np.float32))
    pairs = [bad] + [bad] * (len(shards) - 1)
    with pytest.raises(ValueError, match=r"f\.npy: shape \(3, 2\), expected \(1500, 2\)"):
        make_stream(shards, arrays=pairs)


def test_datamodule_with_id_arrays_streams_the_same_batches(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "train.txt", criteo_rows(3000))
    loaders = {}
    for flag in (False, True):
        dm = CTRDataModule(
            raw_source=FileSource(criteo(), path, tmp_path / "ingest"),
            preprocess=PreprocessConfig(row_group_rows=512),
            cache_root=str(tmp_path / "cache"),
            batch_size=128,
            eval_batch_size=64,
            id_arrays=flag,
        )
        dm.prepare_and_setup()
        loaders[flag] = [dm.train_dataloader(), dm.val_dataloader()]
    names = sorted(p.name for p in (tmp_path / "cache").iterdir() if p.name != "ingest")
    assert names == sorted([dm.data.root.name, arrays_root(dm.data).name])  # one cache, shared
    assert (arrays_root(dm.data) / "manifest.json").is_file()
    for plain, fast in zip(loaders[False], loaders[True], strict=True):
        expected, got = list(plain), list(fast)
        assert len(got) == len(expected) > 1
        for a, b in zip(got, expected, strict=True):
            assert torch.equal(a.features, b.features) and torch.equal(a.labels, b.labels)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="pinning needs CUDA")
def test_batch_pins_both_tensors() -> None:
    batch = Batch(torch.arange(6).view(3, 2), torch.ones(3, 1))
    pinned = batch.pin_memory()
    assert pinned.features.is_pinned() and pinned.labels.is_pinned()
    assert torch.equal(pinned.features, batch.features)


def test_damaged_id_arrays_are_rebuilt_from_the_cache(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "train.txt", criteo_rows(500))
    dm = CTRDataModule(
        raw_source=FileSource(criteo(), path, tmp_path / "ingest"),
        preprocess=PreprocessConfig(),
        cache_root=str(tmp_path / "cache"),
        id_arrays=True,
    )
    dm.prepare_and_setup()
    features, _ = split_arrays(dm.data, "train")
    good = np.load(features)
    with features.open("r+b") as fh:  # a torn write: the file is shorter than its manifest says
        fh.truncate(features.stat().st_size - 8)
    assert ensure_id_arrays(dm.data) == arrays_root(dm.data)
    np.testing.assert_array_equal(np.load(features), good)
