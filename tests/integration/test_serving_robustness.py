"""The served model on bad requests: unseen values, out-of-range ids, missing fields, wrong dtypes.

One tiny run without AFE and one behind ``afe=paper`` (the plan reads only some columns), each
exported once; every case goes through the three paths a server may use -- the PyTorch served
module, the TorchScript file and the ONNX file -- and must behave as the README documents.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
import polars as pl
import pytest

from reaction.cli.export import export
from reaction.cli.train import train
from reaction.data.schema import MISSING_ID, OOV_ID
from reaction.runs.load import TrainedRun, load_run
from reaction.serving import (
    OnnxModel,
    RequestEncoder,
    ServedModel,
    TorchModel,
    TorchScriptModel,
)
from tests.conftest import compose_train, small_run_overrides
from tests.integration.test_export import FAST, compose_export

RUNS = {
    "dnn": ["model=dnn"],
    "dnn_afe_paper": ["model=dnn", "afe=paper", "afe.null_permutations=20"],
}
PATHS = ("pytorch", "torchscript", "onnx")
ROWS = 64
TOLERANCE = 1e-5


@dataclass(frozen=True)
class Served:
    run: TrainedRun
    models: dict[str, ServedModel]
    encoder: RequestEncoder
    raw: pl.DataFrame  # the first ROWS raw test rows, before preprocessing
    export_dir: Path

    @property
    def fields(self) -> list[str]:
        return self.run.datamodule.feature_map.field_names

    @property
    def ids(self) -> np.ndarray:
        return self.encoder.encode(self.raw)


@pytest.fixture(scope="module", params=sorted(RUNS))
def served(request, data_dir: Path, tmp_path_factory) -> Served:
    run_dir = tmp_path_factory.mktemp(request.param)
    train(compose_train([*small_run_overrides(), *FAST, *RUNS[request.param]], run_dir, data_dir))
    out = run_dir / "export"
    export(compose_export(run_dir, out))
    run = load_run(run_dir)
    models = {
        "pytorch": TorchModel.from_run(run),
        "torchscript": TorchScriptModel(out / "model.torchscript.pt"),
        "onnx": OnnxModel(out / "model.onnx"),
    }
    raw = pl.read_parquet(run.datamodule.raw_source.prepare().test[0], n_rows=ROWS)
    return Served(run, models, RequestEncoder.from_preprocessed(run.datamodule.data), raw, out)


def test_encoder_gives_the_ids_preprocessing_gave_the_test_split(served: Served) -> None:
    cached = pl.read_parquet(served.run.datamodule.data.split_path("test"), n_rows=ROWS)
    np.testing.assert_array_equal(served.ids, cached.select(served.fields).to_numpy())


def test_unseen_and_missing_raw_values_become_oov_and_missing_ids_on_every_path(
    served: Served,
) -> None:
    kinds = {f.name: f.kind for f in served.run.datamodule.feature_map.fields}
    request = {"click": served.raw["click"]}  # extra columns are ignored
    for name, kind in kinds.items():
        values = served.raw[name].to_list()
        values[:4] = [1e30 if kind == "numeric" else "never-seen-in-training"] * 4
        values[4:6] = [None, float("nan") if kind == "numeric" else None]
        request[name] = values
    ids = served.encoder.encode(request)
    assert (ids[:4] == OOV_ID).all() and (ids[4:6] == MISSING_ID).all()
    np.testing.assert_array_equal(ids[6:], served.ids[6:])
    logits = {path: model.predict(ids) for path, model in served.models.items()}
    for path in PATHS:
        assert logits[path].shape == (ROWS,) and np.isfinite(logits[path]).all()
        np.testing.assert_allclose(logits[path], logits["pytorch"], rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize("path", PATHS)
def test_an_id_outside_its_field_vocabulary_is_an_error_naming_field_and_id(
    served: Served, path: str
) -> None:
    model, sizes = served.models[path], served.run.datamodule.feature_map.vocab_sizes
    for column in (0, len(sizes) // 2, len(sizes) - 1):
        for bad in (sizes[column], -1):
            ids = served.ids.copy()
            ids[3, column] = bad
            name = served.fields[column]
            message = rf"field '{name}': ids must lie in \[0, {sizes[column]}\), got {bad} in row 3"
            for call in (model, model.predict):
                with pytest.raises(ValueError, match=message):
                    call(ids)


def test_the_exported_file_alone_does_not_check_ids(served: Served) -> None:
    """Why the runtimes check: a raw session reads a wrong row (or an unused field) silently."""
    ids = served.ids.copy()
    ids[:, -1] = -1  # ONNX Gather counts a negative index from the end of the table
    session = ort.InferenceSession(
        str(served.export_dir / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    assert np.isfinite(session.run(None, {"features": ids})[0]).all()


@pytest.mark.parametrize("path", PATHS)
def test_a_named_request_needs_every_field_and_names_the_missing_ones(
    served: Served, path: str
) -> None:
    model, ids = served.models[path], served.ids
    named = {f: ids[:, i] for i, f in reversed(list(enumerate(served.fields)))}
    want = model(ids)
    np.testing.assert_array_equal(model.predict({**named, "click": served.raw["click"]}), want)
    np.testing.assert_array_equal(model.predict(pl.DataFrame(named)), want)
    lost = [served.fields[1], served.fields[-1]]
    partial = {f: v for f, v in named.items() if f not in lost}
    missing = re.escape(f"missing field(s) {lost}")
    with pytest.raises(ValueError, match=missing):
        model.predict(partial)
    with pytest.raises(ValueError, match=missing):
        served.encoder.encode(served.raw.drop(lost))


@pytest.mark.parametrize("path", PATHS)
def test_a_wrong_width_is_an_error_naming_the_expected_fields(served: Served, path: str) -> None:
    model, ids = served.models[path], served.ids
    width = len(served.fields)
    expected = rf"expected shape \(B, {width}\) with columns \['{served.fields[0]}', "
    wrong = (ids[:, :-1], np.concatenate([ids, ids[:, :1]], axis=1), ids[0])
    for features in wrong:
        for call in (model, model.predict):
            with pytest.raises(ValueError, match=expected):
                call(features)


@pytest.mark.parametrize("path", PATHS)
def test_narrower_ints_are_cast_and_other_dtypes_refused(served: Served, path: str) -> None:
    model, ids = served.models[path], served.ids
    want = model(ids)
    np.testing.assert_array_equal(model.predict(ids.astype(np.int32)), want)
    np.testing.assert_array_equal(model.predict(ids.astype(np.uint16)), want)
    with pytest.raises(ValueError, match="expected dtype int64"):
        model(ids.astype(np.int32))  # the exact input: no cast
    refused = {
        "float32": ids.astype(np.float32),
        "bool": ids > 1,
        "uint64": ids.astype(np.uint64),
        "<U": ids.astype(str),
    }
    for dtype, features in refused.items():
        with pytest.raises(ValueError, match=rf"expected integer ids \(int64.*got {dtype}"):
            model.predict(features)
    with pytest.raises(ValueError, match="raw values must be encoded first"):
        model.predict(served.raw.select(served.fields).to_numpy())  # mixed: object
    named = {f: ids[:, i] for i, f in enumerate(served.fields)}
    named[served.fields[2]] = named[served.fields[2]].astype(np.float64)
    with pytest.raises(ValueError, match=rf"field '{served.fields[2]}': expected integer ids"):
        model.predict(named)
