"""Every public format: a small file in its exact layout, parsed values checked field by field."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from reaction.data.formats.aliccp import DENSE, SPARSE, aliccp
from reaction.data.formats.avazu import RAW_FIELDS, avazu
from reaction.data.formats.criteo import CATEGORICAL, NUMERIC, criteo
from reaction.data.formats.frappe import FIELDS as FRAPPE_FIELDS
from reaction.data.formats.frappe import frappe
from reaction.data.formats.kdd12 import kdd12
from reaction.data.formats.movielens import movielens
from reaction.data.formats.splits import FilePlan, SplitConfig, assign, plan_files
from reaction.data.formats.tabular import tabular
from tests.data.format_files import CRITEO_ROW_1, CRITEO_ROW_2, ingest, skipped, write_lines

CRITEO_COLUMNS = ("click", *NUMERIC, *CATEGORICAL)


def expected_criteo(line: str, sep: str = "\t") -> dict[str, object]:
    """The reference parse: empty -> None, label/I* -> float, C* -> the text."""
    values = line.split(sep)
    assert len(values) == 40
    out: dict[str, object] = {}
    for name, value in zip(CRITEO_COLUMNS, values, strict=True):
        if value == "":
            out[name] = None
        else:
            out[name] = value if name.startswith("C") else float(value)
    return out


def test_criteo_kaggle_tsv_field_by_field(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "train.txt", [CRITEO_ROW_1, CRITEO_ROW_2])
    frames, report = ingest(criteo(), path, tmp_path / "ingest")
    rows = frames["train"].rows(named=True)
    assert rows == [expected_criteo(CRITEO_ROW_1), expected_criteo(CRITEO_ROW_2)]
    # hand-checked values: missing I1, the negative I2, empty C20/C22, trailing empty C25/C26
    assert rows[0]["I1"] is None and rows[0]["I5"] == 8210.0 and rows[0]["C20"] is None
    assert rows[1]["I2"] == -2.0 and rows[1]["C23"] == "b64ce422"
    assert (rows[1]["C25"], rows[1]["C26"]) == (None, None)
    assert frames["train"].schema["click"] == pl.Float32
    assert report["rows_read"] == 2 and report["rows_skipped"] == 0


def test_criteo_kaggle_test_txt_row_has_39_fields(tmp_path: Path) -> None:
    test_row = CRITEO_ROW_1.split("\t", 1)[1]  # test.txt: no label column
    path = write_lines(tmp_path / "train.txt", [CRITEO_ROW_1, test_row])
    frames, report = ingest(criteo(), path, tmp_path / "ingest")
    assert frames["train"].height == 1
    assert skipped(report) == [(2, "39 fields, expected 40")]


@pytest.mark.parametrize(("variant", "label"), [("x4", "Label"), ("x1", "label")])
def test_criteo_bars_csv_splits(tmp_path: Path, variant: str, label: str) -> None:
    header = ",".join((label, *NUMERIC, *CATEGORICAL))
    x1_row = (
        "0,0.05,0.001658,0.03,0.06,0.010871,0.022,0.03,0.12,0.054,0,0.1,0,0.04,501,2027,70409,"
        "512981,664937,665154,672966,677297,677333,717288,732107,983012,1150132,1150535,1154379,"
        "1260529,1530007,1532225,1535713,1536008,1785756,1934101,1934198,1964698,2023300,2043873"
    )
    x4_row = CRITEO_ROW_2.replace("\t", ",")
    row = x1_row if variant == "x1" else x4_row
    folder = tmp_path / f"Criteo_{variant}"
    for name in ("train.csv", "valid.csv", "test.csv"):
        write_lines(folder / name, [header, row])
    frames, _ = ingest(criteo(variant), folder, tmp_path / "ingest")
    for split in ("train", "val", "test"):
        assert frames[split].rows(named=True) == [expected_criteo(row, ",")]
    if variant == "x1":
        assert frames["train"]["I2"][0] == 0.001658 and frames["train"]["C26"][0] == "2043873"


AVAZU_HEADER = (
    "id,click,hour,C1,banner_pos,site_id,site_domain,site_category,app_id,app_domain,"
    "app_category,device_id,device_ip,device_model,device_type,device_conn_type,C14,C15,C16,"
    "C17,C18,C19,C20,C21"
)
AVAZU_ROWS = [
    "14472608315270093401,0,14102513,1005,0,5b3e9a17,d0c41e62,3f7a21c8,8e0d5b34,a61f09c2,"
    "47b2e8d0,c9e3a715,6b9769f2,1e84d0a3,1,0,20984,320,50,2371,0,551,-1,46",
    "9075236611080451263,1,14102907,1002,0,72c0e5f9,0a9d43b6,e2b58c10,93f6d2a4,4c08b7e1,"
    "d57a3f02,0d5f3a2c,1c5e2b07,b81e6c49,0,0,17654,320,50,1994,2,39,100148,33",
]


def test_avazu_kaggle_hour_expansion_and_raw_fields(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "train", [AVAZU_HEADER, *AVAZU_ROWS])
    frames, _ = ingest(avazu(), path, tmp_path / "ingest")
    frame = frames["train"]
    assert frame.columns == ["click", *RAW_FIELDS, "hour", "weekday", "weekend"]
    assert len(frame.columns) - 1 == 24  # BARS Avazu_x4_001: 24 categorical fields
    # 2014-10-25 13h is a Saturday (%w 6); 2014-10-29 07h a Wednesday (%w 3)
    assert (
        dt.date(2014, 10, 25).strftime("%w") == "6" and dt.date(2014, 10, 29).strftime("%w") == "3"
    )
    assert frame.select("click", "hour", "weekday", "weekend").rows() == [
        (0.0, "13", "6", "1"),
        (1.0, "7", "3", "0"),
    ]
    for row, raw in zip(frame.rows(named=True), AVAZU_ROWS, strict=True):
        values = dict(zip(AVAZU_HEADER.split(","), raw.split(","), strict=True))
        assert {f: row[f] for f in RAW_FIELDS} == {f: values[f] for f in RAW_FIELDS}
    assert frame["C20"].to_list() == ["-1", "100148"]  # the -1 sentinel stays a category
    assert avazu(weekend=False).categorical[-2:] == ("hour", "weekday")


def test_avazu_x1(tmp_path: Path) -> None:
    header = ",".join(["label", *(f"feat_{i}" for i in range(1, 23))])
    ids = [5, 36, 1042, 6891, 10230, 17781, 24010, 24150, 32219, 41077, 102354, 1130442]
    ids += [1291857, 1407821, 1407823, 1407827, 1407976, 1408009, 1408141, 1408147, 1408203]
    ids += [1408330]
    row = ",".join(["0", *map(str, ids)])
    folder = tmp_path / "Avazu_x1"
    for name in ("train.csv", "valid.csv", "test.csv"):
        write_lines(folder / name, [header, row])
    frames, _ = ingest(avazu("x1"), folder, tmp_path / "ingest")
    assert frames["test"].row(0) == (0.0, *map(str, ids))


def test_movielens_latest_x1(tmp_path: Path) -> None:
    folder = tmp_path / "MovielensLatest_x1"
    write_lines(folder / "train.csv", ["label,user_id,item_id,tag_id", "1,61822,3094,1288"])
    write_lines(folder / "valid.csv", ["label,user_id,item_id,tag_id", "0,77310,45122,33017"])
    write_lines(folder / "test.csv", ["label,user_id,item_id,tag_id", "1,0,1,2"])
    frames, _ = ingest(movielens(), folder, tmp_path / "ingest")
    assert frames["train"].rows() == [(1.0, "61822", "3094", "1288")]
    assert frames["val"].rows() == [(0.0, "77310", "45122", "33017")]
    assert frames["test"].rows() == [(1.0, "0", "1", "2")]


def test_frappe_x1(tmp_path: Path) -> None:
    header = "label,user,item,daytime,weekday,isweekend,homework,cost,weather,country,city"
    row = "0,412,1877,5040,5049,5054,5056,5058,5062,5071,5160"
    folder = tmp_path / "Frappe_x1"
    for name in ("train.csv", "valid.csv", "test.csv"):
        write_lines(folder / name, [header, row])
    frames, _ = ingest(frappe(), folder, tmp_path / "ingest")
    assert frames["val"].columns == ["click", *FRAPPE_FIELDS]
    assert frames["val"].row(0) == (0.0, *row.split(",")[1:])


def test_kdd12_label_is_click_count_positive(tmp_path: Path) -> None:
    ids = "11736020457193328815\t21560664\t37484\t2\t2\t2327921\t26706\t119024\t82903\t1023411"
    lines = [f"0\t1\t{ids}", f"2\t3\t{ids}", f"3\t2\t{ids}", f"1\t0\t{ids}", f"-1\t1\t{ids}"]
    frames, report = ingest(kdd12(), write_lines(tmp_path / "training.txt", lines), tmp_path)
    assert frames["train"].rows() == [(0.0, *ids.split("\t")), (1.0, *ids.split("\t"))]
    assert skipped(report) == [
        (3, "column 'Impression': '2' is not an integer >= max(1, Click)"),
        (4, "column 'Impression': '0' is not an integer >= max(1, Click)"),
        (5, "label column 'Click': '-1' is not a non-negative integer"),
    ]


def test_aliccp_two_labels_and_dense_fields(tmp_path: Path) -> None:
    header = ",".join(["click", "purchase", *SPARSE, *DENSE])
    sparse = "5521,12,9,2,5,1,3,2,1,70116,48,1207,88,4410,0,6,17,402,2,14,311,97,26"
    dense = "0.6694,0.6021,0.5317,0.4809,0.0,0.1884,0.2755,0.3318"
    lines = [header, f"1,1,{sparse},{dense}", f"1,0,{sparse},{dense}", f"0,1,{sparse},{dense}"]
    frames, report = ingest(aliccp(), write_lines(tmp_path / "train.csv", lines), tmp_path)
    frame = frames["train"]
    assert frame.columns == ["click", "conversion", *DENSE, *SPARSE]
    assert frame.select("click", "conversion").rows() == [(1.0, 1.0), (1.0, 0.0)]
    assert frame.select(DENSE).row(0) == tuple(float(x) for x in dense.split(","))
    assert frame.select(SPARSE).row(1) == tuple(sparse.split(","))
    assert skipped(report) == [(4, "purchase 1 with click 0")]


def test_tabular_csv_with_quotes(tmp_path: Path) -> None:
    schema = tmp_path / "schema.yaml"
    schema.write_text(
        "format: csv\nlabels: [clicked, bought]\nnumeric: [price]\ncategorical: [title, user]\n"
    )
    lines = [
        "user,title,price,clicked,bought,unused",
        'u1,"Some Film, The (1999)",9.5,1,0,x',
        'u2,"He said ""hi""",,0,0,y',
        "u3,plain,1e3,1,1,z",
    ]
    frames, _ = ingest(tabular(schema), write_lines(tmp_path / "logs.csv", lines), tmp_path)
    assert frames["train"].rows() == [
        (1.0, 0.0, 9.5, "Some Film, The (1999)", "u1"),
        (0.0, 0.0, None, 'He said "hi"', "u2"),
        (1.0, 1.0, 1000.0, "plain", "u3"),
    ]


def test_tabular_headerless_tsv(tmp_path: Path) -> None:
    schema = tmp_path / "schema.json"
    schema.write_text(
        '{"format": "tsv", "header": false, "columns": ["y", "a", "b"],'
        ' "labels": ["y"], "numeric": ["b"], "categorical": ["a"]}'
    )
    path = write_lines(tmp_path / "data.tsv", ["1\tx\t-3.5", "0\t\tnan"])
    frames, report = ingest(tabular(schema), path, tmp_path)
    rows = frames["train"].rows()
    assert rows[0] == (1.0, -3.5, "x")
    assert rows[1][0] == 0.0 and np.isnan(rows[1][1]) and rows[1][2] is None
    assert report["files"][0]["nonfinite_as_missing"] == {"b": 1}


def test_tabular_parquet(tmp_path: Path) -> None:
    schema = tmp_path / "schema.yaml"
    schema.write_text("format: parquet\nlabels: [y]\nnumeric: [n, s]\ncategorical: [c]\n")
    path = tmp_path / "data.parquet"
    pl.DataFrame(
        {"y": [1, 0, 1], "n": [1, None, 3], "s": ["2.5", "", "abc"], "c": [7, 8, None]}
    ).write_parquet(path)
    frames, report = ingest(tabular(schema), path, tmp_path)
    assert frames["train"].rows() == [(1.0, 1.0, 2.5, "7"), (0.0, None, None, "8")]
    assert skipped(report) == [(3, "column 's': 'abc' is not a number")]


def test_criteo_1tb_days_layout(tmp_path: Path) -> None:
    folder = tmp_path / "criteo_1tb"
    for day in range(3):
        write_lines(folder / f"day_{day}", [CRITEO_ROW_1] * 2 + [CRITEO_ROW_2] * 2)
    plans = plan_files(folder, SplitConfig())
    assert [(p.path.name, p.split) for p in plans] == [
        ("day_0", "train"),
        ("day_1", "train"),
        ("day_2", None),
    ]
    frames, _ = ingest(criteo(), folder, tmp_path / "ingest")
    assert frames["train"].height == 8
    assert frames["val"]["click"].to_list() == [0.0, 0.0]  # first half of the last day
    assert frames["test"]["click"].to_list() == [1.0, 1.0]


def test_sequential_split_is_file_order(tmp_path: Path) -> None:
    lines = ["label,x"] + [f"{i % 2},{i}" for i in range(10)]
    schema = tmp_path / "s.yaml"
    schema.write_text("labels: [label]\ncategorical: [x]\n")
    split = SplitConfig(mode="sequential", val_fraction=0.2, test_fraction=0.3)
    frames, _ = ingest(tabular(schema), write_lines(tmp_path / "d.csv", lines), tmp_path, split)
    assert [frames[s]["x"].to_list() for s in ("train", "val", "test")] == [
        ["0", "1", "2", "3", "4"],
        ["5", "6"],
        ["7", "8", "9"],
    ]


def test_random_split_is_seeded_and_chunk_independent(tmp_path: Path) -> None:
    lines = ["label,x"] + [f"{i % 2},{i}" for i in range(3000)]
    schema = tmp_path / "s.yaml"
    schema.write_text("labels: [label]\ncategorical: [x]\n")
    path = write_lines(tmp_path / "d.csv", lines)
    split = SplitConfig(val_fraction=0.1, test_fraction=0.2, seed=3)
    big, _ = ingest(tabular(schema), path, tmp_path / "a", split)
    small, _ = ingest(tabular(schema), path, tmp_path / "b", split, chunk_bytes=100)
    assert all(big[s].equals(small[s]) for s in big)
    sizes = {s: f.height for s, f in big.items()}
    assert sum(sizes.values()) == 3000 and 200 < sizes["val"] < 400 and 480 < sizes["test"] < 720
    other, _ = ingest(
        tabular(schema),
        path,
        tmp_path / "c",
        SplitConfig(val_fraction=0.1, test_fraction=0.2, seed=4),
    )
    assert not other["test"].equals(big["test"])


def test_assign_random_matches_fractions() -> None:
    lines = np.arange(1, 200_001, dtype=np.uint64)
    plan = FilePlan(Path("x"), rows=SplitConfig("random", val_fraction=0.1, test_fraction=0.25))
    codes = assign(lines, plan, first_data_line=1, data_lines=len(lines))
    shares = np.bincount(codes, minlength=3) / len(lines)
    assert np.allclose(shares, [0.65, 0.1, 0.25], atol=0.005)
