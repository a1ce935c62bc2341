"""The results store: ``DIR/results.duckdb``, one row per point in table ``results``.

Rules it keeps:
- one writer process (the ``vtlbsim study`` process); workers only compute;
- rows go in small transactions (``INSERT OR IGNORE`` on the primary key ``run_key``), so a
  SIGKILL loses at most the batch being written and never leaves a half-written row; DuckDB's
  write-ahead log replays committed batches on the next open;
- a file that is not a DuckDB database, or a DuckDB database without the ``vtlbsim_meta``
  marker, is refused with one line (:class:`StoreError`);
- at the end of every run the table is rewritten in canonical order (fixed columns, then
  ``cycles_*`` and ``events_*`` sorted; rows sorted by the point's parameters), so the same
  spec gives byte-identical query results whatever the executor or the worker count.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

STORE_FILE = "results.duckdb"
SCHEMA = "vtlbsim-study/1"

BASE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("run_key", "VARCHAR PRIMARY KEY"),
    ("model_version", "VARCHAR NOT NULL"),
    ("platform", "VARCHAR NOT NULL"),
    ("pcpus", "INTEGER NOT NULL"),
    ("mix", "VARCHAR NOT NULL"),
    ("guests", "VARCHAR NOT NULL"),
    ("kinds", "VARCHAR NOT NULL"),
    ("vcpus", "INTEGER NOT NULL"),
    ("scheduler", "VARCHAR NOT NULL"),
    ("migration_rate", "DOUBLE NOT NULL"),
    ("timeslice_ms", "DOUBLE NOT NULL"),
    ("duration_s", "DOUBLE NOT NULL"),
    ("policy", "VARCHAR NOT NULL"),
    ("seed", "INTEGER NOT NULL"),
    ("mode", "VARCHAR NOT NULL"),
    ("sample", "DOUBLE"),
    ("overhead_pct", "DOUBLE NOT NULL"),
    ("cost_to_others_pct", "DOUBLE NOT NULL"),
    ("total_cycles", "DOUBLE NOT NULL"),
    ("machine_cycles", "DOUBLE NOT NULL"),
    ("safe", "BOOLEAN"),
    ("unsafe_kinds", "VARCHAR NOT NULL"),
    ("assumptions", "VARCHAR NOT NULL"),
)
"""The columns every row has, in table order; ``cycles_<cause>``/``events_<name>`` follow."""
BASE_NAMES = tuple(n for n, _ in BASE_COLUMNS)
ROW_ORDER = "platform, pcpus, mix, migration_rate, timeslice_ms, policy, seed, mode, run_key"
"""The canonical row order (the point's parameters, then the key as a tie-break)."""
DYNAMIC_PREFIXES = ("cycles_", "events_")
SAFETY_TABLE = (
    "CREATE TABLE safety (model_version VARCHAR, kind VARCHAR, policy VARCHAR, safe BOOLEAN, "
    "PRIMARY KEY (model_version, kind, policy))"
)
"""Safety verdicts per (guest kind, policy) and model version: computed once, reused by
reruns and by the report (the model checker can take seconds per pair)."""


class StoreError(RuntimeError):
    """A store that cannot be used; ``str()`` is one line naming the file."""


def store_path(out_dir: str | Path) -> Path:
    """``DIR/results.duckdb``."""
    return Path(out_dir) / STORE_FILE


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Store:
    """An open results store (read-write for ``study``, read-only for ``report``/``query``)."""

    def __init__(self, out_dir: str | Path, *, read_only: bool = False) -> None:
        self.path = store_path(out_dir)
        if read_only and not self.path.is_file():
            raise StoreError(
                f"{self.path}: no study store here (run `vtlbsim study SPEC --out {out_dir}`)"
            )
        if not read_only:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"{self.path.parent}: cannot create directory: {exc}") from None
        try:
            self.con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.Error as exc:
            raise StoreError(f"{self.path}: not a usable DuckDB store: {_one_line(exc)}") from None
        self.read_only = read_only
        self._columns: list[str] | None = None
        try:
            self._check_or_create()
        except BaseException:
            self.con.close()
            raise

    # ---- schema -------------------------------------------------------------------------------
    def _tables(self) -> list[str]:
        rows = self.con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()
        return sorted(str(r[0]) for r in rows)

    def _check_or_create(self) -> None:
        try:
            tables = self._tables()
        except duckdb.Error as exc:
            raise StoreError(f"{self.path}: not a usable DuckDB store: {_one_line(exc)}") from None
        if "vtlbsim_meta" not in tables:
            if tables or self.read_only:
                found = ", ".join(tables) or "none"
                raise StoreError(
                    f"{self.path}: not a vtlbsim study store (no vtlbsim_meta table; tables: {found})"
                )
            cols = ", ".join(f"{_quote(n)} {t}" for n, t in BASE_COLUMNS)
            self.con.begin()
            self.con.execute("CREATE TABLE vtlbsim_meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
            self.con.execute(f"CREATE TABLE results ({cols})")
            self.con.execute("INSERT INTO vtlbsim_meta VALUES ('schema', ?)", [SCHEMA])
            self.con.execute(SAFETY_TABLE)
            self.con.commit()
            return
        schema = self.meta("schema")
        if schema != SCHEMA:
            raise StoreError(f"{self.path}: store schema {schema!r}, expected {SCHEMA!r}")
        missing = [n for n in BASE_NAMES if n not in self.columns()]
        if "results" not in tables or missing:
            raise StoreError(
                f"{self.path}: table results is missing columns: {', '.join(missing) or 'all'}"
            )
        if "safety" not in tables and not self.read_only:
            self.con.execute(SAFETY_TABLE)

    def columns(self) -> list[str]:
        """The columns of ``results``, in table order."""
        if self._columns is not None:
            return list(self._columns)
        rows = self.con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'main' AND table_name = 'results' ORDER BY ordinal_position"
        ).fetchall()
        self._columns = [str(r[0]) for r in rows]
        return list(self._columns)

    # ---- meta ---------------------------------------------------------------------------------
    def meta(self, key: str) -> str | None:
        """A value of the ``vtlbsim_meta`` table (None when absent)."""
        row = self.con.execute("SELECT value FROM vtlbsim_meta WHERE key = ?", [key]).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, values: dict[str, str]) -> None:
        """Set meta values in one transaction."""
        self.con.begin()
        for k, v in sorted(values.items()):
            self.con.execute("INSERT OR REPLACE INTO vtlbsim_meta VALUES (?, ?)", [k, v])
        self.con.commit()

    def spec_data(self) -> dict[str, Any] | None:
        """The spec of the last study run into this store (as stored by ``study``)."""
        raw = self.meta("spec")
        return None if raw is None else dict(json.loads(raw))

    # ---- safety verdicts -----------------------------------------------------------------------
    def verdicts(self, version: str) -> dict[tuple[str, str], bool | None]:
        """Stored safety verdicts of one model version."""
        if "safety" not in self._tables():
            return {}
        rows = self.con.execute(
            "SELECT kind, policy, safe FROM safety WHERE model_version = ?", [version]
        ).fetchall()
        return {(str(k), str(p)): (None if v is None else bool(v)) for k, p, v in rows}

    def add_verdicts(self, version: str, items: Sequence[tuple[str, str, bool | None]]) -> None:
        """Store safety verdicts in one transaction."""
        if not items:
            return
        values = ", ".join(
            f"({_literal(version)}, {_literal(k)}, {_literal(p)}, {_literal(v)})"
            for k, p, v in items
        )
        self.con.begin()
        self.con.execute(f"INSERT OR IGNORE INTO safety VALUES {values}")
        self.con.commit()

    # ---- rows ---------------------------------------------------------------------------------
    def keys(self) -> set[str]:
        """Every run key already stored."""
        return {str(r[0]) for r in self.con.execute("SELECT run_key FROM results").fetchall()}

    def count(self) -> int:
        """Rows in ``results``."""
        row = self.con.execute("SELECT count(*) FROM results").fetchone()
        return int(row[0]) if row else 0

    def _add_columns(self, names: Iterable[str]) -> list[str]:
        have = set(self.columns())
        new = sorted(n for n in set(names) if n not in have)
        for n in new:
            if not n.startswith(DYNAMIC_PREFIXES):
                raise StoreError(f"{self.path}: unexpected result column {n!r}")
            self.con.execute(f"ALTER TABLE results ADD COLUMN {_quote(n)} DOUBLE DEFAULT 0")
            self._columns = None
        return new

    def insert(self, rows: Sequence[dict[str, Any]]) -> int:
        """Insert rows in one transaction (a key already stored is skipped); returns rows added.

        The rows go in as one typed NumPy array per column (a DuckDB scan, ~100x faster than
        binding Python values, which makes DuckDB probe for optional modules once per value,
        or than parsing SQL literals); nullable columns travel as NaN / -1 and become NULL.
        """
        if not rows:
            return 0
        self.con.begin()
        try:
            self._add_columns({k for r in rows for k in r})
            cols = self.columns()
            batch, exprs = _columns(rows, cols)
            self.con.register("vtlbsim_batch", batch)
            try:
                added = self.con.execute(
                    f"INSERT OR IGNORE INTO results ({', '.join(_quote(c) for c in cols)}) "
                    f"SELECT {', '.join(exprs)} FROM vtlbsim_batch"
                ).fetchone()
            finally:
                self.con.unregister("vtlbsim_batch")
            self.con.commit()
        except BaseException:
            self.con.rollback()
            self._columns = None
            raise
        return int(added[0]) if added else 0

    def canonicalise(self) -> None:
        """Rewrite ``results`` with columns and rows in canonical order (one transaction)."""
        cols = self.columns()
        dynamic = sorted(c for c in cols if c not in BASE_NAMES)
        canon = list(BASE_NAMES) + dynamic
        defs = [f"{_quote(n)} {t}" for n, t in BASE_COLUMNS]
        defs += [f"{_quote(n)} DOUBLE DEFAULT 0" for n in dynamic]
        sel = ", ".join(_quote(c) for c in canon)
        self.con.begin()
        try:
            self.con.execute(f"CREATE TABLE results_canon ({', '.join(defs)})")
            self.con.execute(
                f"INSERT INTO results_canon SELECT {sel} FROM results ORDER BY {ROW_ORDER}"
            )
            self.con.execute("DROP TABLE results")
            self.con.execute("ALTER TABLE results_canon RENAME TO results")
            self.con.commit()
        except BaseException:
            self.con.rollback()
            raise
        finally:
            self._columns = None
        self.con.execute("CHECKPOINT")

    def query(
        self, sql: str, params: Sequence[Any] = ()
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run SQL; returns (column names, rows); ([], []) for a statement without a result."""
        cur = self.con.execute(sql, list(params))
        if cur is None:  # an empty statement (only whitespace or comments)
            return [], []
        names = [str(d[0]) for d in (cur.description or [])]
        return names, [tuple(r) for r in cur.fetchall()] if names else []

    def close(self) -> None:
        """Close the connection (DuckDB checkpoints the WAL)."""
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_TYPES = {n: t.split()[0] for n, t in BASE_COLUMNS}


def _columns(
    rows: Sequence[dict[str, Any]], cols: Sequence[str]
) -> tuple[dict[str, np.ndarray[Any, Any]], list[str]]:
    """One typed array per column and the SELECT expression that restores its NULLs."""
    batch: dict[str, np.ndarray[Any, Any]] = {}
    exprs: list[str] = []
    for c in cols:
        kind = _TYPES.get(c, "DOUBLE")
        q = _quote(c)
        values = [r.get(c) for r in rows]
        if kind == "VARCHAR":
            batch[c] = np.array(["" if v is None else str(v) for v in values], dtype=str)
            exprs.append(q)
        elif kind == "INTEGER":
            batch[c] = np.array(values, dtype=np.int64)
            exprs.append(q)
        elif kind == "BOOLEAN":
            batch[c] = np.array([-1 if v is None else int(bool(v)) for v in values], np.int8)
            exprs.append(f"CASE WHEN {q} < 0 THEN NULL ELSE {q} = 1 END")
        else:
            default = 0.0 if c.startswith(DYNAMIC_PREFIXES) else math.nan
            batch[c] = np.array([default if v is None else v for v in values], np.float64)
            exprs.append(f"CASE WHEN isnan({q}) THEN NULL ELSE {q} END" if c == "sample" else q)
    return batch, exprs


def _literal(v: Any) -> str:
    """A SQL literal for a value (safety verdicts: a handful per study)."""
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else f"'{v!r}'::DOUBLE"
    if isinstance(v, str):
        return "'" + v.replace("'", "''") + "'"
    raise TypeError(f"cannot store {type(v).__name__} value {v!r}")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
