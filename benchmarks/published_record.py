"""The hardware record: `vtlbsim validate --published` over the whole record (target < 10 s) and
`vtlbsim calibrate`'s fit (target < 1 minute on 2 cores).

The reference measured in the same run is one pass over the record's files without predicting
(load and validate every experiment), so the ratios say how many record loads a full prediction
and a fit are worth. Usage: python benchmarks/published_record.py
"""

from __future__ import annotations

import time
from collections.abc import Callable

from vtlbsim.cost.calibrate import fit
from vtlbsim.cost.published import load_record, predict_experiment


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    load = min(timed(load_record) for _ in range(3))
    record = load_record()

    def predict() -> None:
        for e in load_record():
            predict_experiment(e)

    pred = min(timed(predict) for _ in range(3))
    runs = sum(len(e.runs) for e in record)
    fitting = timed(lambda: fit(record))
    print(f"load the record ({len(record)} experiments): {load:.3f} s (reference)")
    print(
        f"validate --published ({runs} runs): {pred:.3f} s = {pred / load:.1f}x the reference"
        f" (target < 10 s)"
    )
    print(f"calibrate (fit): {fitting:.2f} s = {fitting / load:.0f}x the reference (target < 60 s)")


if __name__ == "__main__":
    main()
