"""Parameter counts of our DCNv3, GDCN and FinalNet blocks against the reference modules.

Not part of the package or the tests (``tests/unit/test_models_cross.py`` writes the same counts
out as formulas): it instantiates the reference implementations' own cross / FINAL modules at
the shipped settings (39 fields, ``embedding_dim`` 16) and compares them block by block. The
reference files are not vendored; save them in a scratch folder outside this repository:

* ``DCNv3.py``: salmon1802/DCNv3 ``src/DCNv3.py``;
* ``GDCN.py``, ``FinalNet.py``: reczoo/FuxiCTR ``model_zoo/GDCN/src/GDCN.py`` and
  ``model_zoo/FinalNet/src/FinalNet.py`` (checked at commit
  ``0245987fdc1d43c36164ea496a02324885a8557a``).

Their blocks are plain torch; only their module-level ``fuxictr`` imports are stubbed, so no
FuxiCTR install is needed::

    python tools/reference_param_counts_cross.py --reference-dir /tmp/refcheck_cross

Embedding tables are left out (both sides are one ``vocab x D`` table per field; DCNv3's is
``D * num_heads`` wide). Exit status 1 if any count differs.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import types
from pathlib import Path

from torch import nn

REPO = Path(__file__).resolve().parents[1]
FIELDS, DIM = 39, 16


def _stub_fuxictr() -> None:
    """The names the reference files import at module level; their blocks never call them."""
    for name in ("fuxictr", "fuxictr.pytorch", "fuxictr.pytorch.models", "fuxictr.pytorch.layers"):
        sys.modules.setdefault(name, types.ModuleType(name))
    utils = sys.modules.setdefault("fuxictr.pytorch.torch_utils", types.ModuleType("torch_utils"))
    sys.modules["fuxictr.pytorch.models"].BaseModel = nn.Module
    sys.modules["fuxictr.pytorch.layers"].FeatureEmbedding = nn.Module
    sys.modules["fuxictr.pytorch.layers"].MLP_Block = nn.Module
    utils.get_regularizer = None
    utils.get_activation = lambda name: None if name is None else nn.ReLU()


def _count(*modules: nn.Module) -> int:
    return sum(p.numel() for m in modules for p in m.parameters())


def reference_counts(reference_dir: Path) -> dict[str, int]:
    _stub_fuxictr()
    sys.path.insert(0, str(reference_dir))
    dcnv3, gdcn, final = (importlib.import_module(n) for n in ("DCNv3", "GDCN", "FinalNet"))
    d = FIELDS * DIM
    ecn = dcnv3.ExponentialCrossNetwork(d, 3, layer_norm=True, batch_norm=False, net_dropout=0.1)
    lcn = dcnv3.LinearCrossNetwork(d, 4, layer_norm=True, batch_norm=False, net_dropout=0.2)
    block1 = final.FinalBlock(2 * d, [400, 400, 400], None, 0, True, "concat")
    block2 = final.FinalBlock(d, [400, 400, 400], None, 0, True, "concat")
    return {
        "dcnv3 ECN + dfc": _count(ecn),
        "dcnv3 LCN + sfc": _count(lcn),
        "gdcn gated cross": _count(gdcn.GateCorssLayer(d, 3)),
        "final_net gate": _count(final.FeatureGating(FIELDS)),
        "final_net block1 + fc1": _count(block1, nn.Linear(400, 1)),
        "final_net block2 + fc2": _count(block2, nn.Linear(400, 1)),
    }


def our_counts() -> dict[str, int]:
    sys.path.insert(0, str(REPO / "src"))
    from reaction.data.schema import FeatureMap, FieldSpec
    from reaction.models import GDCN, DCNv3, FinalNet

    fields = tuple(FieldSpec(f"f{i}", "categorical", 10) for i in range(FIELDS))
    feature_map = FeatureMap(fields=fields, dataset="refcheck")
    dcnv3, gdcn, final = DCNv3(feature_map), GDCN(feature_map), FinalNet(feature_map)
    return {
        "dcnv3 ECN + dfc": _count(dcnv3.deep, dcnv3.deep_head),
        "dcnv3 LCN + sfc": _count(dcnv3.shallow, dcnv3.shallow_head),
        "gdcn gated cross": _count(gdcn.interaction),
        "final_net gate": _count(final.gating),
        "final_net block1 + fc1": _count(final.block1, final.head1),
        "final_net block2 + fc2": _count(final.block2, final.head2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference-dir", type=Path, default=Path("/tmp/refcheck_cross"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    reference, ours = reference_counts(args.reference_dir), our_counts()
    status = 0
    for name, ref in reference.items():
        verdict = "ok" if ref == ours[name] else "DIFFERS"
        logging.info("%s: reference=%d ours=%d %s", name, ref, ours[name], verdict)
        status |= ref != ours[name]
    return status


if __name__ == "__main__":
    sys.exit(main())
