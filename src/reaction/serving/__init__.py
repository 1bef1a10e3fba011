"""Serving a trained net: export to TorchScript / ONNX and the runtimes that check parity."""

from reaction.serving.contract import InputContract
from reaction.serving.export import ONNX, TORCHSCRIPT, Artifact, export_net
from reaction.serving.parity import (
    OnnxModel,
    ParityError,
    TorchScriptModel,
    check_parity,
    measure_parity,
    parity_failures,
)

__all__ = [
    "ONNX",
    "TORCHSCRIPT",
    "Artifact",
    "InputContract",
    "OnnxModel",
    "ParityError",
    "TorchScriptModel",
    "check_parity",
    "export_net",
    "measure_parity",
    "parity_failures",
]
