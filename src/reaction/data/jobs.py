"""Where the independent parts of a preprocessing build run: a pool of processes or SLURM jobs.

A job is submitted through anything with ``submit(fn, *args) -> obj.result()``: a
``ProcessPoolExecutor`` (``data.preprocess_workers``) or a ``submitit`` executor (one SLURM job
per call, ``data.preprocess_slurm``). The ingest runs one job per input file
(``reaction.data.formats.parts``), the encode one job per part of the rows
(``reaction.data.encode_parts``); both give the bytes of the one-process build.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


class Job(Protocol):
    def result(self) -> Any: ...


class Submitter(Protocol):
    """``concurrent.futures.Executor`` and ``submitit.Executor`` both fit."""

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Job: ...


class PartFailedError(RuntimeError):
    """A job of a build in parts failed; the message names the part, the cause is chained."""


@dataclass(frozen=True)
class Jobs:
    """``workers`` processes, or with ``slurm`` (submitit parameters; ``folder`` for its logs,
    else ``log_folder``; ``cluster: local`` for local processes) one SLURM job per part.

    ``parts`` is how many parts the encode stage is cut into (``None``: ``workers``); the data
    source sets it for SLURM to the number of input files (one encode job per ingest job) or
    ``workers`` where that is more.
    """

    workers: int = 1
    slurm: Mapping[str, Any] | None = None
    log_folder: Path = Path("submitit")
    parts: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1:
            raise ValueError(f"data.preprocess_workers must be >= 1, got {self.workers}")
        if self.slurm is not None and not isinstance(self.slurm, Mapping):
            raise ValueError(
                "data.preprocess_slurm must be null or a mapping of submitit parameters, "
                f"got {self.slurm!r}"
            )
        if self.parts is not None and self.parts < 1:
            raise ValueError(f"encode parts must be >= 1, got {self.parts}")
        if self.slurm is not None:  # a plain dict: a Hydra DictConfig is pickled to every job
            object.__setattr__(self, "slurm", dict(self.slurm))

    @property
    def num_parts(self) -> int:
        return self.workers if self.parts is None else self.parts

    @contextmanager
    def submitter(self, jobs: int) -> Iterator[Submitter]:
        """The SLURM executor, else a pool of ``min(workers, jobs)`` processes."""
        if self.slurm is None:
            with process_pool(min(self.workers, jobs)) as pool:
                yield pool
            return
        parameters = dict(self.slurm)
        folder = parameters.pop("folder", None) or self.log_folder
        with slurm_executor(folder, parameters) as executor:
            yield executor


def results(jobs: list[Job], names: list[str]) -> list[Any]:
    """Every job's result in order; the first failure raises :class:`PartFailedError` naming
    its part (a worker's traceback alone does not say which rows it was given)."""
    out = []
    for job, name in zip(jobs, names, strict=True):
        try:
            out.append(job.result())
        except Exception as err:
            raise PartFailedError(f"{name} failed: {type(err).__name__}: {err}") from err
    return out


def timed(fn: Callable[..., Any], /, *args: Any) -> tuple[Any, float]:
    """``fn(*args)`` and the CPU seconds its process spent meanwhile (all threads): a job's own
    cost, as the pool's processes are not reaped until the end of the build."""
    start = time.process_time()
    return fn(*args), time.process_time() - start


@contextmanager
def process_pool(workers: int) -> Iterator[Submitter]:
    """``workers`` spawned processes (not forked: polars' thread pool does not survive a fork)."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        try:
            yield pool
        except BaseException:
            pool.shutdown(cancel_futures=True)  # after a failed part, queued parts never start
            raise


@contextmanager
def slurm_executor(folder: str | Path, parameters: dict[str, Any]) -> Iterator[Submitter]:
    """A ``submitit.AutoExecutor`` (one SLURM job per call; ``cluster: local`` runs them as local
    processes, which is how the tests run it); ``parameters`` go to ``update_parameters``."""
    import submitit  # optional: only the SLURM path needs it

    parameters = dict(parameters)
    executor = submitit.AutoExecutor(folder=folder, cluster=parameters.pop("cluster", None))
    executor.update_parameters(**parameters)
    yield executor
