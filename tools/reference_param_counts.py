r"""Compare our models' parameter counts with FuxiCTR's reference implementations.

A developer tool, not part of the package or the tests (which only assert the numbers it found).
It needs ``fuxictr`` (the layers; checked with 2.3.10) and a checkout of the FuxiCTR GitHub repo
(the model classes live in its ``model_zoo/``, not in the pip package)::

    python -m venv /tmp/refvenv && /tmp/refvenv/bin/pip install fuxictr==2.3.10
    git clone https://github.com/reczoo/FuxiCTR /tmp/FuxiCTR
    PYTHONPATH=src /tmp/refvenv/bin/python tools/reference_param_counts.py \
        --fuxictr-repo /tmp/FuxiCTR

Each case builds a FuxiCTR ``FeatureMap`` by hand with the same fields and vocabulary sizes as
ours, instantiates both models with the same hyperparameters and counts FuxiCTR's parameters with
``BaseModel.count_parameters`` (trainable ``numel``; in 2.3.10 it logs the total and returns
``None``, so the log line is captured) and ours with ``reaction.metrics.costs.count_parameters``.
Exits 1 if a difference is not the documented one in ``expected_diff``.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import re
import sys
import tempfile
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from torch import nn

from reaction.data.schema import FeatureMap, FieldSpec
from reaction.metrics import keys
from reaction.metrics.costs import count_parameters
from reaction.models.dcn import DCN
from reaction.models.dcn_v2 import DCNv2
from reaction.models.deepfm import DeepFM
from reaction.models.fm import FM
from reaction.models.fmfm import FmFM
from reaction.models.fwfm import FwFM
from reaction.models.pnn import PNN
from reaction.models.wide_deep import WideDeep

log = logging.getLogger("reference_param_counts")

# "small": the schema and sizes of tests/unit/test_models_factorization.py; "criteo39": our
# conf/model defaults on a Criteo-shaped schema (39 fields; small vocabularies keep it fast).
SCHEMAS = {"small": (5, 7, 4), "criteo39": tuple(10 + i for i in range(39))}
SMALL = {"embedding_dim": 3, "hidden": [8, 4], "cross": 2}
DEFAULT = {"embedding_dim": 16, "hidden": [400, 400, 400], "cross": 3}


@dataclass(frozen=True)
class Case:
    name: str
    zoo_file: str  # path of the model class inside a FuxiCTR checkout
    fuxictr_class: str
    fuxictr_kwargs: Callable[[dict], dict]
    ours: Callable[[FeatureMap, dict], nn.Module]
    expected_diff: int = 0  # ours - FuxiCTR, when the difference is understood
    reason: str = field(default="")


def _deep(h: dict) -> dict:
    return {"embedding_dim": h["embedding_dim"], "hidden_units": h["hidden"]}


CASES = [
    Case(
        "fm",
        "model_zoo/FM/src/FM.py",
        "FM",
        lambda h: {"embedding_dim": h["embedding_dim"]},
        lambda fm, h: FM(fm, embedding_dim=h["embedding_dim"]),
    ),
    Case(
        "fwfm",
        "model_zoo/FwFM/src/FwFM.py",
        "FwFM",
        lambda h: {"embedding_dim": h["embedding_dim"], "linear_type": "LW"},
        lambda fm, h: FwFM(fm, embedding_dim=h["embedding_dim"]),
    ),
    Case(
        "fmfm",
        "model_zoo/FmFM/src/FmFM.py",
        "FmFM",
        lambda h: {"embedding_dim": h["embedding_dim"], "field_interaction_type": "matrixed"},
        lambda fm, h: FmFM(fm, embedding_dim=h["embedding_dim"]),
    ),
    Case(
        "wide_deep",
        "model_zoo/WideDeep/WideDeep_torch/src/WideDeep.py",
        "WideDeep",
        _deep,
        lambda fm, h: WideDeep(fm, h["embedding_dim"], hidden_units=h["hidden"]),
    ),
    Case(
        "deepfm",
        "model_zoo/DeepFM/DeepFM_torch/src/DeepFM.py",
        "DeepFM",
        _deep,
        lambda fm, h: DeepFM(fm, h["embedding_dim"], hidden_units=h["hidden"]),
        expected_diff=-1,
        reason="FuxiCTR adds a bias in both LogisticRegression(use_bias=True) and the MLP output;"
        " ours keeps one (the first-order term's), as the paper's y_FM + y_DNN",
    ),
    Case(
        "pnn",
        "model_zoo/PNN/src/PNN.py",
        "PNN",
        _deep,
        lambda fm, h: PNN(fm, h["embedding_dim"], hidden_units=h["hidden"]),
    ),
    Case(
        "dcn",
        "model_zoo/DCN/DCN_torch/src/DCN.py",
        "DCN",
        lambda h: {
            "embedding_dim": h["embedding_dim"],
            "dnn_hidden_units": h["hidden"],
            "num_cross_layers": h["cross"],
        },
        lambda fm, h: DCN(fm, h["embedding_dim"], h["cross"], hidden_units=h["hidden"]),
    ),
    Case(
        "dcnv2",
        "model_zoo/DCNv2/src/DCNv2.py",
        "DCNv2",
        lambda h: {
            "embedding_dim": h["embedding_dim"],
            "model_structure": "parallel",
            "parallel_dnn_hidden_units": h["hidden"],
            "num_cross_layers": h["cross"],
        },
        lambda fm, h: DCNv2(
            fm, h["embedding_dim"], "parallel", h["cross"], hidden_units=h["hidden"]
        ),
    ),
    Case(
        "dcnv2_stacked",
        "model_zoo/DCNv2/src/DCNv2.py",
        "DCNv2",
        lambda h: {
            "embedding_dim": h["embedding_dim"],
            "model_structure": "stacked",
            "stacked_dnn_hidden_units": h["hidden"],
            "num_cross_layers": h["cross"],
        },
        lambda fm, h: DCNv2(
            fm, h["embedding_dim"], "stacked", h["cross"], hidden_units=h["hidden"]
        ),
    ),
]


def fuxictr_feature_map(vocab_sizes: tuple[int, ...], embedding_dim: int, data_dir: str):
    """A FuxiCTR ``FeatureMap`` with categorical fields ``f0..`` (id 0 = padding, as FuxiCTR)."""
    from fuxictr.features import FeatureMap as FuxiFeatureMap

    fmap = FuxiFeatureMap("refcheck", data_dir)
    fmap.features = OrderedDict(
        (f"f{i}", {"source": "", "type": "categorical", "vocab_size": v, "padding_idx": 0})
        for i, v in enumerate(vocab_sizes)
    )
    fmap.labels = ["click"]
    fmap.default_emb_dim = embedding_dim  # what FeatureMap.load takes from params
    fmap.num_fields = fmap.get_num_fields()
    fmap.set_column_index()
    return fmap


def load_class(repo: Path, zoo_file: str, name: str) -> type:
    spec = importlib.util.spec_from_file_location(f"fuxictr_zoo_{name}", repo / zoo_file)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(repo / zoo_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


class _Capture(logging.Handler):
    """Collects the total that FuxiCTR's ``count_parameters`` logs."""

    def __init__(self) -> None:
        super().__init__()
        self.totals: list[int] = []

    def emit(self, record: logging.LogRecord) -> None:
        match = re.search(r"Total number of parameters: (\d+)", record.getMessage())
        if match:
            self.totals.append(int(match.group(1)))


def fuxictr_count(model: nn.Module) -> int:
    capture = _Capture()
    root = logging.getLogger()
    root.addHandler(capture)
    try:
        model.count_parameters()
    finally:
        root.removeHandler(capture)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    if capture.totals != [trainable]:
        raise RuntimeError(f"count_parameters logged {capture.totals}, numel sum {trainable}")
    return trainable


def run(repo: Path) -> bool:
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        base = {"verbose": 0, "model_root": tmp, "metrics": ["AUC"]}
        base |= {"optimizer": "adam", "loss": "binary_crossentropy", "gpu": -1}
        for schema, hparams in (("small", SMALL), ("criteo39", DEFAULT)):
            vocab = SCHEMAS[schema]
            ours_map = FeatureMap(
                fields=tuple(FieldSpec(f"f{i}", "categorical", v) for i, v in enumerate(vocab)),
                dataset="refcheck",
            )
            fuxi_map = fuxictr_feature_map(vocab, hparams["embedding_dim"], tmp)
            for case in CASES:
                cls = load_class(repo, case.zoo_file, case.fuxictr_class)
                theirs = fuxictr_count(cls(fuxi_map, **case.fuxictr_kwargs(hparams), **base))
                ours = count_parameters(case.ours(ours_map, hparams))[keys.PARAMS_TOTAL]
                diff = ours - theirs
                good = diff == case.expected_diff
                ok &= good
                note = f" ({case.reason})" if diff and good else ""
                log.info(
                    "%-8s %-14s %s ours=%d fuxictr=%d diff=%+d%s",
                    schema,
                    case.name,
                    "ok  " if good else "FAIL",
                    ours,
                    theirs,
                    diff,
                    note,
                )
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fuxictr-repo", type=Path, required=True, help="FuxiCTR git checkout")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    # FuxiCTR logs one line per layer at INFO; keep only this tool's lines.
    logging.getLogger().handlers[0].addFilter(lambda r: r.name == log.name)
    sys.exit(0 if run(args.fuxictr_repo) else 1)


if __name__ == "__main__":
    main()
