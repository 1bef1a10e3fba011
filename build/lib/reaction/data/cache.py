"""The preprocessing cache's integrity: content fingerprints, manifests, atomic temp dirs.

A cache directory is named after the fingerprint of everything that determines its content, so a
changed input, config or ``CODE_VERSION`` never reuses stale output. It is built in a hidden
sibling temp dir named after its owner (host, pid) and renamed into place, and its manifest is
written last, so a killed build never leaves a directory that looks finished. ``validate`` checks
a directory against its manifest (sizes, parquet footers and row counts; sha256 on request).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import socket
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow.parquet as pq

if TYPE_CHECKING:
    from reaction.data.preprocess import PreprocessConfig, RawSplits

log = logging.getLogger(__name__)

CODE_VERSION = "preprocess-v2"  # bump whenever the output of a build would change
MANIFEST = "manifest.json"
_TMP_MARK = ".tmp-"
_FOREIGN_TMP_MAX_AGE_S = 24 * 3600


def fingerprint(raw: RawSplits, config: PreprocessConfig) -> str:
    """sha256 of input identities (path, size, mtime_ns), column roles, config and code version."""
    files = {}
    for split, paths in raw.files.items():
        entries = []
        for path in paths:
            st = path.stat()
            entries.append([str(path.resolve()), st.st_size, st.st_mtime_ns])
        files[split] = entries
    payload = {
        "files": files,
        "labels": raw.labels,
        "categorical": raw.categorical,
        "numeric": raw.numeric,
        "dataset": raw.dataset,
        "config": asdict(config),
        "code_version": CODE_VERSION,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def file_identity(path: Path, edge_bytes: int = 1 << 20) -> dict[str, object]:
    """What identifies a raw input file without reading it all: resolved path, size, mtime and a
    sha256 of its first and last ``edge_bytes`` (catches a same-size rewrite that kept the mtime,
    e.g. a copy with ``cp -p``, in the places where files usually differ: header and tail)."""
    st = path.stat()
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        digest.update(fh.read(edge_bytes))
        if st.st_size > edge_bytes:
            fh.seek(max(edge_bytes, st.st_size - edge_bytes))
            digest.update(fh.read(edge_bytes))
    return {
        "path": str(path.resolve()),
        "bytes": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "edges_sha256": digest.hexdigest(),
    }


def cache_name(raw: RawSplits, fp: str) -> str:
    """The directory name: readable dataset, then enough of the fingerprint to be unique."""
    return f"{raw.dataset}-{fp[:16]}"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(root: Path, fp: str) -> None:
    """Written last: its presence means every listed file was completely written."""
    files = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        entry: dict[str, object] = {"bytes": path.stat().st_size, "sha256": _sha256(path)}
        if path.suffix == ".parquet":
            entry["rows"] = pq.ParquetFile(path).metadata.num_rows
        files[path.relative_to(root).as_posix()] = entry
    manifest = {"fingerprint": fp, "code_version": CODE_VERSION, "files": files}
    (root / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))


def validate(root: Path, fp: str, verify_hash: bool, required: Iterable[str]) -> str | None:
    """What is wrong with a cache directory, or None when it matches its manifest.

    ``required`` are the files the manifest must list, so one lacking a split never passes.
    """
    try:
        manifest = json.loads((root / MANIFEST).read_text())
        if manifest["fingerprint"] != fp:
            return f"fingerprint {manifest['fingerprint']} != expected {fp}"
        files = manifest["files"]
        for name in required:
            if name not in files:
                return f"manifest does not list {name}"
        for rel, entry in files.items():
            problem = _check_file(root / rel, entry, verify_hash)
            if problem is not None:
                return f"{rel}: {problem}"
        return None
    except (OSError, ValueError, KeyError, TypeError) as err:
        return f"unreadable or malformed manifest ({type(err).__name__}: {err})"


def publish(
    root: Path,
    fp: str,
    build: Callable[[Path], None],
    required: Iterable[str],
    verify_hash: bool,
) -> None:
    """Run ``build`` into a temp sibling of ``root``, seal it with a manifest, rename it into place.

    Concurrent builders race on the rename; a loser whose rename fails keeps the winner's cache
    when that one validates, and re-raises otherwise. The temp dir is always removed.
    """
    tmp = temp_path(root, uuid.uuid4().hex[:8])
    tmp.mkdir()
    try:
        build(tmp)
        write_manifest(tmp, fp)
        os.replace(tmp, root)
    except OSError:
        if validate(root, fp, verify_hash, required) is not None:  # not a lost race
            raise
        log.info("another process finished %s first; using it", root)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _check_file(path: Path, entry: dict, verify_hash: bool) -> str | None:
    """One manifest entry: exists, same size, parquet footer readable with the same row count."""
    if not path.is_file():
        return "missing"
    if path.stat().st_size != entry["bytes"]:
        return f"size {path.stat().st_size} != {entry['bytes']}"
    if "rows" in entry:
        try:
            rows = pq.ParquetFile(path).metadata.num_rows
        except Exception as err:  # any pyarrow failure means an unreadable file
            return f"unreadable parquet ({err})"
        if rows != entry["rows"]:
            return f"{rows} rows != {entry['rows']}"
    if verify_hash and _sha256(path) != entry["sha256"]:
        return "sha256 mismatch"
    return None


def temp_path(final: Path, tag: str) -> Path:
    """A hidden sibling named after its owner (host, pid), so stale ones can be told apart."""
    return final.with_name(f".{final.name}{_TMP_MARK}{socket.gethostname()}-{os.getpid()}-{tag}")


def remove_dir(path: Path) -> None:
    """Rename away first so a half-deleted directory never sits under a cache name."""
    doomed = temp_path(path, f"rm{uuid.uuid4().hex[:8]}")
    try:
        os.replace(path, doomed)
    except FileNotFoundError:  # another process removed it first
        return
    shutil.rmtree(doomed, ignore_errors=True)


def clean_stale_temps(cache_root: Path) -> None:
    """Delete temp dirs of dead builders: same host and pid gone, or another host's after a day."""
    host = socket.gethostname()
    for tmp in cache_root.glob(f".*{_TMP_MARK}*"):
        owner = tmp.name.rsplit(_TMP_MARK, 1)[1]
        owner_host, _, rest = owner.rpartition("-")[0].rpartition("-")
        try:
            stale = time.time() - tmp.stat().st_mtime > _FOREIGN_TMP_MAX_AGE_S
        except FileNotFoundError:  # its owner finished meanwhile
            continue
        if owner_host == host:
            stale = not _pid_alive(int(rest)) if rest.isdigit() else True
        if stale:
            log.warning("removing stale preprocess temp dir %s", tmp)
            shutil.rmtree(tmp, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
