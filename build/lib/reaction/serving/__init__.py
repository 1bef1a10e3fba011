"""Serving a trained net: the input contract, raw-value encoding, runtimes, export and parity."""

from reaction.serving.contract import InputContract
from reaction.serving.encode import RequestEncoder
from reaction.serving.export import ONNX, TORCHSCRIPT, Artifact, export_net
from reaction.serving.parity import (
    ParityError,
    check_parity,
    measure_parity,
    parity_failures,
)
from reaction.serving.runtime import OnnxModel, ServedModel, TorchModel, TorchScriptModel

__all__ = [
    "ONNX",
    "TORCHSCRIPT",
    "Artifact",
    "InputContract",
    "OnnxModel",
    "ParityError",
    "RequestEncoder",
    "ServedModel",
    "TorchModel",
    "TorchScriptModel",
    "check_parity",
    "export_net",
    "measure_parity",
    "parity_failures",
]
