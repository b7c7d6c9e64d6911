"""Agreement check, then interleaved timing, of one case across libraries.

How a case is measured:

1. Inputs are made once (float32, fixed seed) and converted to each
   library's array outside any timed call; the float64 reference is
   computed from the same values.
2. Every library's answer is checked against the reference
   (:func:`fasttensor.bench.cases.check_agreement`).  A library that
   disagrees, raises, or lacks the op is reported as such and not timed.
3. Each remaining library is calibrated: the number of calls per block is
   chosen so that one block lasts about `block_seconds`.
4. Rounds: in each round every library runs one block, in an order that
   reverses from round to round.  Whenever the library changes, the loop
   rests `rest` seconds first, so that the previous library's idle worker
   threads (which spin for a while before they sleep) have stopped taking
   the cores the next library needs.
5. The reported time per call is the median over rounds of block time /
   calls per block.
"""

from __future__ import annotations

import gc
import math
import statistics
import time
from dataclasses import dataclass, field

import numpy as np

from .cases import check_agreement

# Status of one library on one case.
OK = "ok"
WRONG = "wrong"          # disagreed with the reference: not timed
ERROR = "error"          # raised: not timed
SKIPPED = "skipped"      # the op does not exist in this library (yet)
UNAVAILABLE = "unavailable"  # the library itself is not importable


@dataclass
class LibResult:
    """One library's outcome on one case."""

    status: str
    note: str = ""
    times: list[float] = field(default_factory=list)   # seconds per call
    number: int = 0                                     # calls per block
    error_ratio: float | None = None                    # see check_agreement

    @property
    def median(self):
        return statistics.median(self.times) if self.times else None


@dataclass
class CaseResult:
    """Every library's outcome on one case, plus the derived figures."""

    case: object
    libs: dict[str, LibResult]

    def median(self, lib):
        r = self.libs.get(lib)
        return r.median if r is not None else None

    def speedup(self, over, lib="fasttensor"):
        """How many times faster `lib` is than `over` (None if unknown)."""
        a, b = self.median(lib), self.median(over)
        if a is None or b is None or a <= 0:
            return None
        return b / a

    def rate(self, lib):
        """GFLOP/s or GB/s (per the case's kind) of `lib`, or None."""
        t = self.median(lib)
        if t is None or t <= 0:
            return None
        work = self.case.flops if self.case.kind == "flops" else \
            self.case.nbytes
        return work / t / 1e9


class Timer:
    """Runs cases one after another, remembering which library ran last.

    Parameters
    ----------
    rounds : int
        Timed rounds per case (the median is reported).
    rest : float
        Seconds to sleep whenever the library changes.
    block_seconds : float
        Target duration of one timed block of calls.
    max_number : int
        Upper bound on calls per block.
    seed : int
        Seed of the input generator.
    """

    def __init__(self, rounds=5, rest=0.3, block_seconds=0.05,
                 max_number=100_000, seed=0):
        if rounds < 1:
            raise ValueError(f"rounds must be at least 1, got {rounds}")
        if rest < 0:
            raise ValueError(f"rest must be >= 0 seconds, got {rest}")
        self.rounds = rounds
        self.rest = rest
        self.block_seconds = block_seconds
        self.max_number = max_number
        self.seed = seed
        self._last = None

    def _switch_to(self, name):
        if self._last is not None and self._last != name and self.rest > 0:
            time.sleep(self.rest)
        self._last = name

    def run_case(self, case, libraries):
        """Check, then time, `case` on every library in `libraries`."""
        rng = np.random.default_rng(self.seed)
        inputs = case.make_inputs(rng)
        expected, scale = case.reference(
            *(np.asarray(a, dtype=np.float64) for a in inputs))
        expected = np.asarray(expected, dtype=np.float64)

        results = {}
        runners = {}
        for lib in libraries:
            results[lib.name], fn = self._prepare(case, lib, inputs, expected,
                                                  scale)
            if fn is not None:
                runners[lib.name] = fn

        # Calibrate the number of calls per block, in the reverse order of
        # the checks so that it starts with the library checked last.
        numbers = {}
        for name, fn in reversed(list(runners.items())):
            self._switch_to(name)
            t = _time_block(fn, 1)
            if t < self.block_seconds / 10:
                # Too short to trust: time a few more calls.
                reps = max(1, min(self.max_number,
                                  int(self.block_seconds / 10 / max(t, 1e-9))))
                t = _time_block(fn, reps) / reps
            numbers[name] = max(1, min(self.max_number,
                                       math.ceil(self.block_seconds / t)))
            results[name].number = numbers[name]

        # Interleaved rounds.  The order reverses from one round to the next
        # (the calibration above counts as a reversed round), so that no
        # library always goes first and each round starts with the library
        # that ended the one before: one rest fewer per round.
        names = list(runners)
        for r in range(self.rounds):
            order = names if r % 2 == 0 else names[::-1]
            for name in order:
                self._switch_to(name)
                n = numbers[name]
                results[name].times.append(_time_block(runners[name], n) / n)
        return CaseResult(case, results)

    def _prepare(self, case, lib, inputs, expected, scale):
        """Convert inputs, run once and check; a callable when it passes."""
        if not lib.available:
            return LibResult(UNAVAILABLE, lib.reason), None
        fn = case.impl.get(lib.name)
        if fn is None:
            return LibResult(SKIPPED, f"no {lib.name} version of this case"), \
                None
        if lib.name == "fasttensor":
            missing = lib.missing(case.requires)
            if missing:
                names = ", ".join(f"fasttensor.{m}" for m in missing)
                return LibResult(SKIPPED, f"{names} does not exist yet"), None
        self._switch_to(lib.name)
        try:
            args = tuple(lib.asarray(a) for a in inputs)
            module = lib.module

            def call():
                return fn(module, *args)

            out = lib.to_numpy(call())
        except Exception as exc:  # reported in the table, never raised
            return LibResult(ERROR, f"{type(exc).__name__}: {exc}"), None
        ok, ratio, message = check_agreement(case, out, expected, scale)
        if not ok:
            return LibResult(WRONG, message, error_ratio=ratio), None
        return LibResult(OK, error_ratio=ratio), call


def _time_block(fn, number):
    """Seconds taken by `number` calls of `fn`, with the collector off."""
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        return time.perf_counter() - t0
    finally:
        if gc_was_enabled:
            gc.enable()
