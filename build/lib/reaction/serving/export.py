"""Any ``(B, F) int64 -> (B,)`` net to TorchScript and ONNX files with a dynamic batch axis.

Works on the module alone (no run, no config), so whatever is served -- a baseline, an
``AFENet`` (plan lookup + model), a single REACTION tower -- is exported by the same code.

TorchScript by ``torch.jit.trace``, not ``torch.jit.script``: scripting fails on four of the 17
baselines (APG's ``ParameterDict`` lookups, AutoDis, FiGNN and FinalMLP use Python the TorchScript
compiler rejects), while tracing records the ops any module runs. Tracing can freeze a batch size
into the graph; the parity check (``reaction.serving.parity``) runs every file at batch 1 and at
one larger than the example to catch that. ONNX by the ``torch.export``-based exporter
(``dynamo=True``, torch's default; the TorchScript-based one is deprecated), which handles the
embedding gathers, ``index_select``, ``bmm``/``einsum`` and attention of every baseline and keeps
the batch axis symbolic.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from reaction.serving.contract import CONTRACT_KEY, InputContract

log = logging.getLogger(__name__)

TORCHSCRIPT = "torchscript"
ONNX = "onnx"
TORCHSCRIPT_FILE = "model.torchscript.pt"
ONNX_FILE = "model.onnx"
# Protobuf caps one message at 2 GiB: larger weights go to an external data file beside the model.
ONNX_INLINE_LIMIT_BYTES = 2**31 - 2**26
# The dynamic batch axis must be traced at a size torch.export does not specialise (0 or 1).
MIN_EXAMPLE_ROWS = 2


@dataclass(frozen=True)
class Artifact:
    """One exported model: the file to load and every file it needs (e.g. ONNX external data)."""

    format: str
    path: Path
    files: tuple[Path, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "path": str(self.path),
            "files": {f.name: f.stat().st_size for f in self.files},
            "bytes": sum(f.stat().st_size for f in self.files),
        }


def to_torchscript(
    net: nn.Module, example: torch.Tensor, out_dir: Path, contract: InputContract
) -> Artifact:
    """Trace ``net`` on ``example``; the contract rides along as an extra file in the archive."""
    path = out_dir / TORCHSCRIPT_FILE
    with torch.no_grad():
        traced = torch.jit.trace(net, example)
    torch.jit.save(traced, str(path), _extra_files={CONTRACT_KEY: contract.to_json()})
    return Artifact(TORCHSCRIPT, path, (path,))


def to_onnx(
    net: nn.Module, example: torch.Tensor, out_dir: Path, contract: InputContract
) -> Artifact:
    """Export with a symbolic batch axis; the contract is stored in the model's metadata."""
    path = out_dir / ONNX_FILE
    program = torch.onnx.export(
        net,
        (example,),
        dynamo=True,
        input_names=[contract.input_name],
        output_names=[contract.output_name],
        dynamic_shapes=({0: torch.export.Dim("batch")},),
        verbose=False,
    )
    program.model.metadata_props[CONTRACT_KEY] = contract.to_json()
    external = _weight_bytes(net) > ONNX_INLINE_LIMIT_BYTES
    program.save(str(path), external_data=external)
    data = path.with_name(path.name + ".data")
    return Artifact(ONNX, path, (path, data) if external else (path,))


def _weight_bytes(net: nn.Module) -> int:
    tensors = [*net.parameters(), *net.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors)


EXPORTERS: dict[str, Callable[[nn.Module, torch.Tensor, Path, InputContract], Artifact]] = {
    TORCHSCRIPT: to_torchscript,
    ONNX: to_onnx,
}


def export_net(
    net: nn.Module,
    example_features: torch.Tensor,
    out_dir: str | Path,
    formats: Sequence[str] = (TORCHSCRIPT, ONNX),
    contract: InputContract | None = None,
) -> dict[str, Artifact]:
    """Write ``net`` (put in eval mode) in each of ``formats`` under ``out_dir``.

    ``example_features``: ``(B, F)`` int64 ids, ``B >= 2``, real rows preferably (tracing runs
    them through the net). ``contract`` names the ``F`` columns; without one they are ``f0..``.
    """
    unknown = sorted(set(formats) - set(EXPORTERS))
    if unknown or not formats:
        raise ValueError(f"formats must be a non-empty subset of {list(EXPORTERS)}, got {formats}")
    contract = contract or InputContract.anonymous(example_features.shape[-1])
    contract.validate(example_features)
    if example_features.shape[0] < MIN_EXAMPLE_ROWS:
        raise ValueError(
            f"the example batch needs >= {MIN_EXAMPLE_ROWS} rows (a batch of 1 would be exported "
            f"as a constant batch size), got {example_features.shape[0]}"
        )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    net.eval()
    artifacts = {}
    for fmt in formats:
        artifacts[fmt] = EXPORTERS[fmt](net, example_features, out_dir, contract)
        log.info("exported %s to %s", fmt, artifacts[fmt].path)
    return artifacts
