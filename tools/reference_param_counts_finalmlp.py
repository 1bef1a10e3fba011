"""Parameter counts of our FinalMLP against FuxiCTR's reference implementation.

Not part of the package or the tests: it documents where the reference numbers asserted in
``tests/unit/test_models_gated.py::test_final_mlp_matches_fuxictr_parameter_count`` come from.

Reference: FuxiCTR 2.3.10 (pip ``fuxictr==2.3.10``) for its layers (``FeatureEmbedding``,
``MLP_Block``, ``BaseModel``) plus the model class from the GitHub repository, which the wheel does
not ship: ``reczoo/FuxiCTR`` ``model_zoo/FinalMLP/src/FinalMLP.py`` at commit
``2c89b9dd7068839a6cd0150a7c4d77fd1219d77d``. Save that file as ``FinalMLP.py`` in a scratch
folder outside this repository (it is not vendored here), then run::

    python -m venv /tmp/refvenv && /tmp/refvenv/bin/pip install fuxictr==2.3.10
    /tmp/refvenv/bin/python tools/reference_param_counts_finalmlp.py \
        --reference-dir /tmp/refcheck_finalmlp

Both models are built on the same hand-made schema of categorical fields (FuxiCTR's
``vocab_size`` counts padding and OOV like ours) and counted as ``sum(p.numel())`` over
trainable parameters, which is FuxiCTR's ``BaseModel.count_parameters()`` and our
``count_parameters(model)["params/total"]``. Exit status 1 if any count differs.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VOCAB = {"f0": 5, "f1": 7, "f2": 4, "f3": 9}
# name -> hyperparameters, in our argument names; FuxiCTR uses the same names.
CASES: dict[str, dict[str, object]] = {
    "small_global_gates": {
        "embedding_dim": 3,
        "mlp1_hidden_units": [8, 4],
        "mlp2_hidden_units": [6],
        "fs_hidden_units": [5],
        "num_heads": 2,
    },
    "small_context_gates_bn": {
        "embedding_dim": 3,
        "mlp1_hidden_units": [8, 4],
        "mlp1_batch_norm": True,
        "mlp2_hidden_units": [6],
        "fs_hidden_units": [5],
        "fs1_context": ["f0"],
        "fs2_context": ["f1", "f2"],
        "num_heads": 2,
    },
    "shipped_defaults": {
        "embedding_dim": 16,
        "mlp1_hidden_units": [400, 400, 400],
        "mlp2_hidden_units": [1000],
        "fs_hidden_units": [800],
        "num_heads": 200,
    },
}


def reference_count(reference_dir: Path, params: dict[str, object]) -> int:
    sys.path.insert(0, str(reference_dir))
    from FinalMLP import FinalMLP as FuxiFinalMLP  # noqa: N813 (reference module name)
    from fuxictr.features import FeatureMap as FuxiFeatureMap

    feature_map = FuxiFeatureMap("refcheck", tempfile.gettempdir())
    for name, size in VOCAB.items():
        feature_map.features[name] = {
            "source": "",
            "type": "categorical",
            "padding_idx": 0,
            "oov_idx": size - 1,
            "vocab_size": size,
        }
    feature_map.num_fields = len(VOCAB)
    feature_map.labels = ["click"]
    model = FuxiFinalMLP(
        feature_map,
        gpu=-1,
        optimizer="adam",
        loss="binary_crossentropy",
        metrics=["AUC", "logloss"],
        model_root=tempfile.gettempdir(),
        verbose=0,
        **params,
    )
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def our_count(params: dict[str, object]) -> int:
    sys.path.insert(0, str(REPO / "src"))
    from reaction.data.schema import FeatureMap, FieldSpec
    from reaction.metrics import keys
    from reaction.metrics.costs import count_parameters
    from reaction.models.final_mlp import FinalMLP

    fields = tuple(FieldSpec(name, "categorical", size) for name, size in VOCAB.items())
    model = FinalMLP(FeatureMap(fields=fields, dataset="refcheck"), **params)
    return count_parameters(model)[keys.PARAMS_TOTAL]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference-dir", type=Path, default=Path("/tmp/refcheck_finalmlp"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    status = 0
    for name, params in CASES.items():
        ref, ours = reference_count(args.reference_dir, params), our_count(params)
        verdict = "ok" if ref == ours else "DIFFERS"
        logging.info("%s: fuxictr=%d ours=%d %s  %s", name, ref, ours, verdict, params)
        status |= ref != ours
    return status


if __name__ == "__main__":
    sys.exit(main())
