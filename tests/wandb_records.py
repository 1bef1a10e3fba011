"""Read the records of an offline W&B run file (``run-<id>.wandb``) without any network.

wandb >= 0.19 no longer ships a Python reader for its offline files, so tests decode them here:
the file is a LevelDB-style log (a 7-byte ``:W&B`` header, then 32 KiB blocks of chunks with a
7-byte header: crc32, length, type) whose payloads are ``wandb_internal_pb2.Record`` messages.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import wandb
from wandb.proto import wandb_internal_pb2

_FILE_HEADER = 7
_BLOCK = 32 * 1024
_CHUNK_HEADER = 7
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


def _payloads(data: bytes) -> list[bytes]:
    if data[:4] != b":W&B":
        raise ValueError("not a W&B offline run file")
    payloads, pending, pos = [], b"", _FILE_HEADER
    while pos + _CHUNK_HEADER <= len(data):
        if _BLOCK - pos % _BLOCK < _CHUNK_HEADER:  # block trailer padding
            pos += _BLOCK - pos % _BLOCK
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + _CHUNK_HEADER])
        chunk = data[pos + _CHUNK_HEADER : pos + _CHUNK_HEADER + length]
        pos += _CHUNK_HEADER + length
        if kind == 0 and length == 0:
            continue
        pending = chunk if kind in (_FULL, _FIRST) else pending + chunk
        if kind in (_FULL, _LAST):
            payloads.append(pending)
    return payloads


def _key(item: Any) -> str:
    """Items carry either a flat ``key`` or a ``nested_key`` path (e.g. ``_step``)."""
    return item.key or "/".join(item.nested_key)


def _artifact(record: wandb_internal_pb2.ArtifactRecord) -> dict[str, Any]:
    """What a logged artifact holds: its files by their names inside it, not their local paths."""
    return {
        "name": record.name,
        "type": record.type,
        "aliases": list(record.aliases),
        "metadata": json.loads(record.metadata) if record.metadata else {},
        "files": sorted(entry.path for entry in record.manifest.contents),
    }


def read_run(path: Path) -> dict[str, Any]:
    """``run`` (id, project, group, name, tags, job type), ``config``, ``summary``, ``history``
    and ``artifacts`` (logged ones, in order).

    wandb's service process writes the file; ``run.finish()`` can return before its last block
    is on disk (a truncated record then fails to parse), so the service is shut down first:
    ``wandb.teardown()`` waits for it to flush and exit (the next run starts a new one).
    """
    wandb.teardown()
    out: dict[str, Any] = {"run": {}, "config": {}, "summary": {}, "history": [], "artifacts": []}
    for payload in _payloads(path.read_bytes()):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(payload)
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run = record.run
            out["run"] = {
                "id": run.run_id,
                "project": run.project,
                "group": run.run_group,
                "name": run.display_name,
                "tags": list(run.tags),
                "job_type": run.job_type,
            }
        elif kind == "config":
            out["config"].update({i.key: json.loads(i.value_json) for i in record.config.update})
        elif kind == "summary":
            out["summary"].update(
                {_key(i): json.loads(i.value_json) for i in record.summary.update}
            )
        elif kind == "history":
            out["history"].append({_key(i): json.loads(i.value_json) for i in record.history.item})
        elif kind == "artifact":
            out["artifacts"].append(_artifact(record.artifact))
    return out
