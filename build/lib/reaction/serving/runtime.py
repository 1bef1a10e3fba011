"""The three ways a trained net is served, behind one checked interface.

``TorchModel`` (the PyTorch served module, ``load_run(..., served=True).net``),
``TorchScriptModel`` and ``OnnxModel`` (the files ``reaction-export`` writes, loaded from disk as a
server would) all take numpy ids and return numpy logits, and all check a request against the
same ``InputContract`` (``reaction.serving.contract``) before the model sees it:

- ``model(features)``: the exact input, ``(B, F)`` int64 with every id in its field's range;
- ``model.predict(request)``: a request as received -- positional ids or named columns, narrower
  integer types cast -- validated the same way (``InputContract.prepare``).

Raw feature values become ids with ``reaction.serving.RequestEncoder`` first.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

from reaction.serving.contract import CONTRACT_KEY, InputContract
from reaction.serving.export import ONNX, TORCHSCRIPT

if TYPE_CHECKING:
    from reaction.runs.load import TrainedRun


class ServedModel(ABC):
    """``(B, F)`` int64 ids -> ``(B,)`` logits, with the contract checked first."""

    contract: InputContract

    def __call__(self, features: np.ndarray) -> np.ndarray:
        """The exact model input; anything else is a ``ValueError`` naming what was expected."""
        self.contract.validate(features)
        return self.logits(features)

    def predict(self, request: Any) -> np.ndarray:
        """Any request ``InputContract.prepare`` accepts (named columns, narrower int types)."""
        return self.logits(self.contract.prepare(request))

    @abstractmethod
    def logits(self, features: np.ndarray) -> np.ndarray:
        """The model on already-validated ids (no checks: call ``__call__`` or ``predict``)."""


class TorchModel(ServedModel):
    """A PyTorch net (put in eval mode) served as the exported files are."""

    def __init__(self, net: nn.Module, contract: InputContract) -> None:
        self.net = net.eval()
        self.contract = contract

    @classmethod
    def from_run(cls, run: TrainedRun) -> TorchModel:
        """A reopened run's net with its feature map's contract (fields and vocabulary sizes)."""
        return cls(run.net, InputContract.for_feature_map(run.datamodule.feature_map))

    def logits(self, features: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return self.net(_tensor(features)).numpy()


class TorchScriptModel(ServedModel):
    """``torch.jit.load`` of an exported file, with the contract stored in it."""

    def __init__(self, path: str | Path) -> None:
        extra = {CONTRACT_KEY: ""}
        self.module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
        self.contract = InputContract.from_json(extra[CONTRACT_KEY])

    def logits(self, features: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return self.module(_tensor(features)).numpy()


class OnnxModel(ServedModel):
    """An onnxruntime CPU session of an exported file, with the contract stored in it.

    onnxruntime refuses a wrong dtype or width itself, in its own words, but not an id outside
    its field's vocabulary; the contract check names the field in every case.
    """

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        options = ort.SessionOptions()
        # Same thread budget as torch: a parity run must not oversubscribe a shared machine.
        options.intra_op_num_threads = threads or torch.get_num_threads()
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        metadata = self.session.get_modelmeta().custom_metadata_map
        self.contract = InputContract.from_json(metadata[CONTRACT_KEY])

    def logits(self, features: np.ndarray) -> np.ndarray:
        feed = {self.contract.input_name: np.ascontiguousarray(features)}
        return self.session.run([self.contract.output_name], feed)[0]


def _tensor(features: np.ndarray) -> torch.Tensor:
    # torch warns on (and may not share) a read-only array, e.g. a zero-copy polars column
    return torch.from_numpy(features if features.flags.writeable else features.copy())


LOADERS: dict[str, Callable[[Path], ServedModel]] = {
    TORCHSCRIPT: TorchScriptModel,
    ONNX: OnnxModel,
}
