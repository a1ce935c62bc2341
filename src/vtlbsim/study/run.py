"""Running a study: expand the spec, skip the points already stored, compute the rest on an
executor, and store each finished chunk at once (the single-writer loop).

Ctrl-C (or SIGTERM) asks the loop to stop: the chunks already received are stored, the table
is put in canonical order, and :class:`StudyRun` says how many points are stored. A second
Ctrl-C stops at once (everything committed so far stays: batches are transactions).
"""

from __future__ import annotations

import json
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TextIO, TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from .executors import make_executor
from .spec import StudySpec
from .store import Store, store_path
from .sweep import (
    ChunkResult,
    Point,
    evaluate_chunk,
    evaluate_safety,
    expand,
    kind_files,
    mix_safety,
    model_version,
    run_key,
    safety_subject,
    safety_version,
)

T = TypeVar("T")


class StudyFailed(RuntimeError):
    """A point failed; ``str()`` is one line; ``bad_input`` → exit 2, else 1."""

    def __init__(self, message: str, bad_input: bool) -> None:
        super().__init__(message)
        self.bad_input = bad_input


@dataclass(frozen=True, slots=True)
class StudyRun:
    """What one ``vtlbsim study`` run did."""

    total: int
    """Points in the spec."""
    already: int
    """Points found in the store before this run."""
    computed: int
    """Points computed and stored by this run."""
    stored: int
    """Points of this spec now in the store."""
    interrupted: bool
    elapsed_s: float
    store: Path
    model_version: str


def chunk_size(missing: int, workers: int) -> int:
    """About eight chunks per worker, 1…200 points each (small enough to commit often)."""
    return max(1, min(200, missing // (8 * max(1, workers)) or 1))


@contextmanager
def _stop_on_signals() -> Iterator[list[bool]]:
    """Turn the first SIGINT/SIGTERM into a flag; a second SIGINT raises KeyboardInterrupt."""
    flag = [False]

    def handler(signum: int, frame: FrameType | None) -> None:
        if flag[0] and signum == signal.SIGINT:
            raise KeyboardInterrupt
        flag[0] = True

    try:
        old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread: no signal handling
        yield flag
        return
    try:
        yield flag
    finally:
        for s, h in old.items():
            signal.signal(s, h)


class _Reporter:
    """A rich progress bar with ETA on a terminal; plain lines (every ~2 s) otherwise."""

    def __init__(
        self, name: str, total: int, stream: TextIO, fancy: bool | None, unit: str
    ) -> None:
        self.console = Console(file=stream, highlight=False)
        self.fancy = self.console.is_terminal if fancy is None else fancy
        self.name, self.total, self.done, self.unit = name, total, 0, unit
        self.t0 = self.last = time.monotonic()
        self.stream = stream
        self.bar: Progress | None = None
        if self.fancy and total:
            self.bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]} " + unit + "/s"),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                console=self.console,
            )
            self.task = self.bar.add_task(f"study {name}", total=total, rate="-")
            self.bar.start()

    def advance(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        rate = self.done / max(now - self.t0, 1e-9)
        if self.bar is not None:
            self.bar.update(self.task, advance=n, rate=f"{rate:,.0f}")
        elif now - self.last >= 2.0 or self.done == self.total:
            self.last = now
            eta = (self.total - self.done) / rate if rate > 0 else 0.0
            pct = 100.0 * self.done / max(self.total, 1)
            print(
                f"study {self.name}: {self.done}/{self.total} {self.unit} ({pct:.0f}%), "
                f"{rate:,.1f} {self.unit}/s, eta {eta:.0f} s",
                file=self.stream,
                flush=True,
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _drain(
    results: Iterator[T | None],
    keep: Callable[[T], bool],
    reporter: _Reporter,
    stop: list[bool],
) -> bool:
    """Store each result as it arrives (``keep`` returns False to stop at a failure);
    returns True when stopped by a signal."""
    try:
        for got in results:
            if got is not None:
                reporter.advance(len(got.rows) if isinstance(got, ChunkResult) else 1)
                if not keep(got):
                    return False
            if stop[0]:
                return True
    finally:
        reporter.close()
    return False


def run_study(
    spec: StudySpec,
    out_dir: str | Path,
    *,
    workers: int = 1,
    scheduler: str | None = None,
    progress: TextIO | None = None,
    fancy: bool | None = None,
) -> StudyRun:
    """Compute every point of ``spec`` missing from ``DIR/results.duckdb`` and store it.

    Two phases on the same executor: the safety verdicts of the (guest kind, policy) pairs
    the missing points need and the store lacks, then the points themselves. Raises
    SpecError (bad names in the spec), StoreError (unusable store), ExecutorError (no
    cluster), StudyFailed (a point failed; the points finished before it are kept).
    """
    t0 = time.monotonic()
    points = expand(spec)
    version = model_version(spec.evaluator, spec.safety)
    keyed: list[tuple[Point, str]] = [(p, run_key(p, version)) for p in points]
    stream = progress or sys.stderr
    with Store(out_dir) as store:
        store.set_meta(
            {
                "spec": json.dumps(spec.model_dump(mode="json"), sort_keys=True),
                "spec_source": spec.source,
                "study": spec.name,
                "model_version": version,
            }
        )
        have = store.keys()
        todo = [(p, k) for p, k in keyed if k not in have]
        already = len(keyed) - len(todo)
        size = chunk_size(len(todo), workers if scheduler is None else 8)
        chunks = [(todo[i : i + size], version, spec.evaluator) for i in range(0, len(todo), size)]
        sversion = safety_version(spec.safety, version)
        verdicts = store.verdicts(sversion)
        # what the checker is asked about a kind depends on the platform's predictors
        subj = {
            (p.platform, k): safety_subject(k, p.platform, p.base_dir, spec.safety)
            for p, _ in todo
            for k in p.kinds
        }
        pairs = sorted(
            {(subj[(p.platform, k)], p.policy) for p, _ in todo for k in p.kinds} - set(verdicts)
        )
        executor = make_executor(workers, scheduler)
        computed, failure = 0, None

        def keep_verdict(got: tuple[str, str, bool | None]) -> bool:
            store.add_verdicts(sversion, [got])
            verdicts[(got[0], got[1])] = got[2]
            return True

        def keep_rows(result: ChunkResult) -> bool:
            nonlocal computed, failure
            for row in result.rows:
                kinds = [subj.get((row["platform"], k), k) for k in row["kinds"].split(",")]
                safe, unsafe = mix_safety(kinds, row["policy"], verdicts)
                row["safe"] = safe
                row["unsafe_kinds"] = ",".join(_kind_of(k) for k in unsafe.split(",") if k)
            computed += store.insert(result.rows)
            if result.error is not None:
                failure = StudyFailed(result.error, result.bad_input)
            return failure is None

        with _stop_on_signals() as stop:
            try:
                files = kind_files(p for p, _ in todo)
                safety_tasks = [
                    (k, p, spec.safety, *files.get(_kind_of(k), ("", None))) for k, p in pairs
                ]
                reporter = _Reporter(f"{spec.name} safety", len(pairs), stream, fancy, "pairs")
                interrupted = _drain(
                    executor.run(evaluate_safety, safety_tasks), keep_verdict, reporter, stop
                )
                if not interrupted:
                    reporter = _Reporter(spec.name, len(todo), stream, fancy, "points")
                    interrupted = _drain(
                        executor.run(evaluate_chunk, chunks), keep_rows, reporter, stop
                    )
            finally:
                executor.close()
                store.canonicalise()
        stored = len({k for _, k in keyed} & store.keys())
    if failure is not None:
        raise failure
    return StudyRun(
        total=len(keyed),
        already=already,
        computed=computed,
        stored=stored,
        interrupted=interrupted,
        elapsed_s=time.monotonic() - t0,
        store=store_path(out_dir),
        model_version=version,
    )


def _kind_of(subject: str) -> str:
    """The guest kind a safety subject names (``KIND`` or ``KIND@READING``)."""
    kind, sep, _ = subject.rpartition("@")
    return kind if sep else subject
