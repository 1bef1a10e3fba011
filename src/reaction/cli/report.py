"""``reaction-report``: the one command that reports runs -- a table in the terminal, files on disk.

``reaction-report outputs/zoo`` prints the comparison table (mean ± std over seeds of test AUC,
logloss, best val AUC and every cost) and writes ``<root>/report/`` (``report.md``, ``report.csv``,
Pareto plots; ``reaction.reporting.report``). ``--baseline LABEL`` adds Welch p-values against that
group, ``--sweep KEY`` one plot per swept key, ``--by KEY`` groups by a config key too, ``--afe-
curve`` adds the AFE field-count curve; several folders report as one table (``--out DIR`` then
names the output folder)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from reaction.reporting.afe_curve import write_curve
from reaction.reporting.afe_methods import write_methods_report
from reaction.reporting.report import display_columns, write_report
from reaction.reporting.summary import COLUMNS, ResultsError, results_table
from reaction.utils.console import wide_console

log = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("roots", type=Path, nargs="+", help="run or multirun folders")
    parser.add_argument("--out", type=Path, metavar="DIR", help="default (one root): <root>/report")
    parser.add_argument(
        "--by", action="append", default=[], metavar="KEY", help="also group by a config key"
    )
    parser.add_argument("--baseline", metavar="LABEL", help="the group the p-values test against")
    parser.add_argument(
        "--sweep", action="append", default=[], metavar="KEY", help="plot test AUC against KEY"
    )
    parser.add_argument(
        "--afe-curve",
        action="store_true",
        help="also the field-count curve (AFE vs. random order) of the first folder's runs",
    )
    parser.add_argument(
        "--all-fields", type=Path, metavar="DIR", help="runs without AFE: the curve's last point"
    )
    parser.add_argument(
        "--afe-methods",
        type=int,
        metavar="K",
        help="also the field-selector comparison (experiment=afe_methods), planted truth at k=K",
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        report = write_report(args.roots, args.out, tuple(args.by), args.baseline, args.sweep)
    except ResultsError as err:
        raise SystemExit(str(err)) from None
    console = wide_console()
    # the terminal gets the summary's columns (+ p-values); the files hold every column
    columns = display_columns(args.baseline is not None, COLUMNS)
    console.print(results_table(report.table, "REACTION report", columns))
    if args.afe_curve:
        out = report.files[0].parent
        curve = write_curve(args.roots[0], args.all_fields, out)
        console.print(curve, markup=False, highlight=False, soft_wrap=True)
    if args.afe_methods is not None:
        methods = write_methods_report(args.roots[0], report.files[0].parent, args.afe_methods)
        console.print(methods, markup=False, highlight=False, soft_wrap=True)
    log.info("wrote %s", ", ".join(str(p) for p in report.files))


if __name__ == "__main__":
    main()
