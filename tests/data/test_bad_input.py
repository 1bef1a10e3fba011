"""Bad input: every malformed case has one defined behaviour under ``on_bad_rows: skip|error``.

skip: the row is dropped and reported (kind counts, ``file:line: reason``); error: the build fails
naming file and line. File-level problems (empty or missing file, a schema naming a column the
file lacks) fail under both policies.
"""

from __future__ import annotations

import csv
import re
import string
import tempfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reaction.data.formats.avazu import avazu
from reaction.data.formats.bad_rows import BadInputError
from reaction.data.formats.criteo import criteo
from reaction.data.formats.ingest import IngestOptions
from reaction.data.formats.ingest import ingest as ingest_plans
from reaction.data.formats.lines import iter_blocks
from reaction.data.formats.splits import FilePlan
from reaction.data.formats.table import Label, TableFormat
from reaction.data.formats.tabular import tabular
from reaction.data.preprocess import PreprocessConfig, load_or_build
from reaction.data.sources.files import FileSource
from tests.data.format_files import CRITEO_ROW_1, CRITEO_ROW_2, ingest, skipped, write_lines

HINT = " (data.on_bad_rows=skip drops and counts such rows)"
TABS_38 = "\t" * 38


def criteo_file(path: Path) -> Path:
    """Every bad-row kind once, between good rows (line numbers in the comments)."""
    lines = [
        CRITEO_ROW_1.encode(),  # 1 good
        CRITEO_ROW_1.split("\t", 1)[1].encode(),  # 2 wrong column count (39)
        b"1\t4\tabc" + b"\t" * 37,  # 3 non-numeric I2
        b"",  # 4 empty line
        b"0\t1" + b"\t" * 13 + b"caf\xe9" + b"\t" * 25,  # 5 latin-1 byte: invalid UTF-8
        b"nan\t1" + TABS_38.encode(),  # 6 NaN label
        b"1\tinf\tnan\t-inf" + b"\t" * 36,  # 7 non-finite numerics: kept as missing
        b"2\t1" + TABS_38.encode(),  # 8 label not 0/1
        CRITEO_ROW_1.encode() + b"\textra",  # 9 41 fields
        b"\t1" + TABS_38.encode(),  # 10 empty label
        CRITEO_ROW_2.encode(),  # 11 good
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


EXPECTED_SKIPS = [
    (2, "39 fields, expected 40"),
    (3, "column 'I2': 'abc' is not a number"),
    (4, "empty line"),
    (5, "invalid UTF-8"),
    (6, "label column 'label': 'nan' is not 0 or 1"),
    (8, "label column 'label': '2' is not 0 or 1"),
    (9, "41 fields, expected 40"),
    (10, "label column 'label' is empty"),
]


@pytest.mark.parametrize("chunk_bytes", [1 << 20, 97])
def test_skip_counts_and_locates_every_bad_row(tmp_path: Path, chunk_bytes: int) -> None:
    path = criteo_file(tmp_path / "train.txt")
    frames, report = ingest(criteo(), path, tmp_path / "ingest", chunk_bytes=chunk_bytes)
    assert skipped(report) == EXPECTED_SKIPS
    assert (report["rows_read"], report["rows_kept"], report["rows_skipped"]) == (11, 3, 8)
    assert report["skipped_by_kind"] == {
        "bad_label": 3,
        "empty_line": 1,
        "field_count": 2,
        "invalid_utf8": 1,
        "not_a_number": 1,
    }
    assert report["first_skipped"][0] == f"{path}:2: 39 fields, expected 40"
    kept = frames["train"]
    assert kept["click"].to_list() == [0.0, 1.0, 1.0]
    assert kept["I1"][1] == float("inf") and kept["I3"][1] == float("-inf")
    assert report["files"][0]["nonfinite_as_missing"] == {"I1": 1, "I2": 1, "I3": 1}


def test_error_names_file_and_first_bad_line(tmp_path: Path) -> None:
    path = criteo_file(tmp_path / "train.txt")
    with pytest.raises(BadInputError) as err:
        ingest(criteo(), path, tmp_path / "ingest", on_bad_rows="error")
    assert str(err.value) == f"{path}:2: 39 fields, expected 40{HINT}"
    assert (err.value.path, err.value.line) == (path, 2)
    assert not list((tmp_path / "ingest").glob("criteo-*"))  # nothing half-built is left


@pytest.mark.parametrize(("line", "reason"), EXPECTED_SKIPS)
def test_error_for_each_kind(tmp_path: Path, line: int, reason: str) -> None:
    source = criteo_file(tmp_path / "all.txt").read_bytes().split(b"\n")
    path = tmp_path / "train.txt"
    path.write_bytes(source[0] + b"\n" + source[line - 1] + b"\n")
    with pytest.raises(BadInputError, match="^" + _escape(f"{path}:2: {reason}{HINT}") + "$"):
        ingest(criteo(), path, tmp_path / "ingest", on_bad_rows="error")


def _escape(text: str) -> str:
    return re.escape(text)


def test_report_keeps_only_the_first_lines_but_counts_all(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "train.txt", ["x"] * 25 + [CRITEO_ROW_1])
    _, report = ingest(criteo(), path, tmp_path / "ingest", max_reported=3)
    assert report["rows_skipped"] == 25 and report["skipped_by_kind"] == {"field_count": 25}
    assert [line for line, _ in skipped(report)] == [1, 2, 3]


@pytest.mark.parametrize("policy", ["skip", "error"])
def test_empty_file_fails_under_both_policies(tmp_path: Path, policy: str) -> None:
    path = tmp_path / "train.txt"
    path.write_bytes(b"")
    with pytest.raises(BadInputError, match=f"^{_escape(str(path))}: empty file$"):
        ingest(criteo(), path, tmp_path / "ingest", on_bad_rows=policy)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.txt does not exist"):
        ingest(criteo(), tmp_path / "nope.txt", tmp_path / "ingest")
    (tmp_path / "folder").mkdir()
    write_lines(tmp_path / "folder" / "notes.csv", ["a"])
    with pytest.raises(FileNotFoundError, match=r"expected train/valid/test files.*notes\.csv"):
        ingest(criteo(), tmp_path / "folder", tmp_path / "ingest")


def test_compressed_input_is_named(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "train.txt.gz").write_bytes(b"\x1f\x8b")
    with pytest.raises(ValueError, match=r"train\.txt\.gz: compressed input; decompress it"):
        ingest(criteo(), tmp_path / "d", tmp_path / "ingest")
    with pytest.raises(ValueError, match=r"train\.txt\.gz: compressed input; decompress it"):
        ingest(criteo(), tmp_path / "d" / "train.txt.gz", tmp_path / "ingest")


def test_schema_naming_a_missing_column(tmp_path: Path) -> None:
    schema = tmp_path / "schema.yaml"
    schema.write_text("labels: [y]\nnumeric: [price]\ncategorical: [user]\n")
    csv = write_lines(tmp_path / "d.csv", ["y,user", "1,a"])
    message = f"{csv}:1: header has no column ['price'] (it has ['y', 'user'])"
    with pytest.raises(BadInputError, match="^" + _escape(message) + "$"):
        ingest(tabular(schema), csv, tmp_path / "ingest")
    parquet_schema = tmp_path / "p.yaml"
    parquet_schema.write_text("format: parquet\nlabels: [y]\nnumeric: [price]\n")
    data = tmp_path / "d.parquet"
    pl.DataFrame({"y": [1]}).write_parquet(data)
    with pytest.raises(BadInputError, match=_escape(f"{data}: parquet schema has no column")):
        ingest(tabular(parquet_schema), data, tmp_path / "ingest2")


def test_bad_schema_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="schema file .*missing.yaml does not exist"):
        tabular(tmp_path / "missing.yaml")
    typo = tmp_path / "typo.yaml"
    typo.write_text("labels: [y]\ncategorcal: [a]\n")
    with pytest.raises(ValueError, match=r"typo\.yaml: unknown schema keys \['categorcal'\]"):
        tabular(typo)
    headerless = tmp_path / "headerless.yaml"
    headerless.write_text("header: false\ncolumns: [y, a]\nlabels: [y]\ncategorical: [a, b]\n")
    with pytest.raises(ValueError, match=r"headerless format lacks columns \['b'\]"):
        tabular(headerless)


def test_header_only_file_gives_an_empty_training_split(tmp_path: Path) -> None:
    schema = tmp_path / "s.yaml"
    schema.write_text("labels: [y]\ncategorical: [a]\n")
    path = write_lines(tmp_path / "d.csv", ["y,a"])
    frames, report = ingest(tabular(schema), path, tmp_path / "ingest")
    assert report["rows_read"] == 0 and frames["train"].is_empty()
    raw = FileSource(tabular(schema), path, tmp_path / "ingest").prepare()
    with pytest.raises(ValueError, match="training split is empty"):
        load_or_build(raw, PreprocessConfig(), tmp_path / "cache")


def test_crlf_and_missing_final_newline(tmp_path: Path) -> None:
    lf = write_lines(tmp_path / "lf.txt", [CRITEO_ROW_1, CRITEO_ROW_2])
    crlf = write_lines(tmp_path / "crlf.txt", [CRITEO_ROW_1, CRITEO_ROW_2], newline="\r\n")
    bare = write_lines(tmp_path / "bare.txt", [CRITEO_ROW_1, CRITEO_ROW_2], final=False)
    frames = [ingest(criteo(), p, tmp_path / p.stem)[0]["train"] for p in (lf, crlf, bare)]
    assert frames[0].height == 2 and frames[0].equals(frames[1]) and frames[0].equals(frames[2])
    assert frames[1]["C26"].to_list() == ["8d116ece", None]  # "\r" never reaches a value


def test_utf8_byte_order_mark_is_not_data(tmp_path: Path) -> None:
    schema = tmp_path / "s.yaml"
    schema.write_text("labels: [y]\ncategorical: [a]\n")
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbfy,a\r\n1,x\r\n")
    frames, _ = ingest(tabular(schema), path, tmp_path / "ingest")
    assert frames["train"].rows() == [(1.0, "x")]


def test_overlong_line_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "blob.txt"
    path.write_bytes(b"x" * 5000)
    with pytest.raises(BadInputError, match=r"blob\.txt:1: line longer than 1000 bytes"):
        list(iter_blocks(path, chunk_bytes=100, max_line_bytes=1000))


def test_unbalanced_quote_and_bad_avazu_hour(tmp_path: Path) -> None:
    schema = tmp_path / "s.yaml"
    schema.write_text("labels: [y]\ncategorical: [a, b]\n")
    path = write_lines(tmp_path / "d.csv", ["y,a,b", '1,"x,y",z', '0,"open,z', "1,p,q"])
    frames, report = ingest(tabular(schema), path, tmp_path / "ingest")
    assert frames["train"].rows() == [(1.0, "x,y", "z"), (1.0, "p", "q")]
    assert skipped(report) == [(3, "unbalanced quote")]
    header = "id,click,hour," + ",".join(avazu().categorical[:-3])
    row = ",".join(["1", "0", "{}"] + ["v"] * 21)
    lines = [header, row.format("14102513"), row.format("14023013"), row.format("1410251")]
    _, report = ingest(avazu(), write_lines(tmp_path / "train", lines), tmp_path / "avazu")
    assert skipped(report) == [
        (3, "column 'hour': '14023013' is not YYMMDDHH"),  # 30 February
        (4, "column 'hour': '1410251' is not YYMMDDHH"),
    ]


# --- property tests: malformed lines thrown at the Criteo (TSV) and CSV readers -------------

hex8 = st.text(alphabet="0123456789abcdef", min_size=8, max_size=8)
maybe_int = st.one_of(st.just(""), st.integers(-3, 10**6).map(str))
maybe_hex = st.one_of(st.just(""), hex8)
good_criteo = st.tuples(
    st.sampled_from(["0", "1"]),
    st.lists(maybe_int, min_size=13, max_size=13),
    st.lists(maybe_hex, min_size=26, max_size=26),
).map(lambda t: "\t".join([t[0], *t[1], *t[2]]).encode())
bad_criteo = st.one_of(
    st.just(b""),
    good_criteo.map(lambda line: line + b"\tx"),  # 41 fields
    good_criteo.map(lambda line: line.split(b"\t", 1)[1]),  # 39 fields
    good_criteo.map(lambda line: b"1\tx1" + line[line.index(b"\t", 2) :]),  # I1 not a number
    good_criteo.map(lambda line: b"5" + line[1:]),  # label 5
    good_criteo.map(lambda line: line[:-1] + b"\xc3"),  # truncated UTF-8 sequence
)


def run_ingest(fmt: TableFormat, data: bytes, policy: str, chunk_bytes: int) -> tuple:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "train.txt"
        path.write_bytes(data)
        options = IngestOptions(policy, chunk_bytes=chunk_bytes, max_reported=10**6)
        report = ingest_plans(fmt, [FilePlan(path, split="train")], options, Path(tmp))
        return pl.read_parquet(Path(tmp) / "train.parquet"), report


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(st.tuples(st.booleans(), st.data()), min_size=1, max_size=30),
    chunk_bytes=st.integers(16, 2048),
    policy=st.sampled_from(["skip", "error"]),
)
def test_criteo_reader_property(rows: list, chunk_bytes: int, policy: str) -> None:
    lines = [data.draw(good_criteo if ok else bad_criteo) for ok, data in rows]
    bad_lines = [i + 1 for i, (ok, _) in enumerate(rows) if not ok]
    _check_outcome(criteo(), lines, bad_lines, policy, chunk_bytes, _criteo_values)


def _criteo_values(line: bytes) -> tuple:
    fields = line.decode().split("\t")
    label = float(fields[0])
    numbers = [float(v) if v else None for v in fields[1:14]]
    return (label, *numbers, *[v or None for v in fields[14:]])


csv_value = st.text(alphabet=string.ascii_letters + ' ,"', max_size=6)


def _csv_cell(value: str) -> str:
    return '"' + value.replace('"', '""') + '"' if set(value) & {",", '"'} else value


good_csv = st.tuples(st.sampled_from(["0", "1"]), st.floats(-1e6, 1e6), csv_value).map(
    lambda t: f"{t[0]},{t[1]!r},{_csv_cell(t[2])}".encode()
)
bad_csv = st.one_of(
    st.just(b""),
    good_csv.map(lambda line: line + b",x"),
    st.just(b'1,2.0,"open'),
    good_csv.map(lambda line: b"0,seven," + line.split(b",", 2)[2]),
    st.just(b"\xff,1.0,a"),
)
CSV_FORMAT = TableFormat(
    "csv",
    labels=(Label("y", "y"),),
    numeric=("x",),
    categorical=("s",),
    header=False,
    columns=("y", "x", "s"),
    quote='"',
)


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(st.tuples(st.booleans(), st.data()), min_size=1, max_size=30),
    chunk_bytes=st.integers(16, 2048),
    policy=st.sampled_from(["skip", "error"]),
)
def test_csv_reader_property(rows: list, chunk_bytes: int, policy: str) -> None:
    lines = [data.draw(good_csv if ok else bad_csv) for ok, data in rows]
    bad_lines = [i + 1 for i, (ok, _) in enumerate(rows) if not ok]
    _check_outcome(CSV_FORMAT, lines, bad_lines, policy, chunk_bytes, _csv_values)


def _csv_values(line: bytes) -> tuple:
    y, x, s = next(csv.reader([line.decode()]))
    return (float(y), float(x), s or None)


def _check_outcome(fmt, lines, bad_lines, policy, chunk_bytes, reference) -> None:
    """Either a clear error at the first bad line, or exactly the bad lines skipped and every
    good row kept with its exact values, in order."""
    data = b"\n".join(lines) + b"\n"
    if policy == "error" and bad_lines:
        with pytest.raises(BadInputError) as err:
            run_ingest(fmt, data, policy, chunk_bytes)
        assert err.value.line == bad_lines[0]
        assert str(err.value).startswith(f"{err.value.path}:{bad_lines[0]}: ")
        return
    kept, report = run_ingest(fmt, data, policy, chunk_bytes)
    assert [s["line"] for s in report["files"][0]["first_skipped"]] == bad_lines
    assert report["rows_skipped"] == len(bad_lines) and report["rows_read"] == len(lines)
    good = [reference(line) for i, line in enumerate(lines) if i + 1 not in bad_lines]
    assert kept.rows() == good
