"""When the answers of ringing calls arrive: the time-resolved look-ahead of predictive pacing.

Owns `RingTimes` (how long resolved dials rang, answered and not) and `Lookahead`, which sizes
the new calls so that the answers expected by each moment of the next ring time stay within the
agents free by then plus the grace. Pure; the expected-excess arithmetic is
dialer.pacing.abandon_math. The formula (a = measured live-answer rate, g = grace):
  S_a, S_u  = survival curves of the ring time of answered / unanswered dials (`RingTimes`)
  p(e, t)   = a (S_a(e) - S_a(e + t)) / (a S_a(e) + (1 - a) S_u(e)): a call ringing for e s is
              answered within t s (0 once it rang longer than every measured answer)
  checkpoints t: 1 s (answers of the ringing calls against the agents free now) and the 20, 40,
              60, 80 and 100 % quantiles of the answer delay
  at each t:  answers A_t = sum over ringing calls of p(e_i, t) + n p(0, t), taken as
              Binomial(ringing + n, mean / (ringing + n)); agents Y_t = certain + Poisson(lam),
              certain = ready, reserved, wrap-up ending by t + g; lam = talking agents whose
              talk ends by t + g - wrap-up (the wrap-up timer of the agents in wrap-up now)
  abandons(n) = safety x max over t of (E[(Q + A_t - Y_t)+] - E[(Q - Y_t)+])
  n* = the most new calls whose abandons(n) / E[A_last] stay within the abandon budget.
The max over checkpoints is a lower bound of the expected shortfall (the shortfall is the
largest excess over time, and the expectation of a maximum exceeds the maximum of the
expectations); `timed_safety` (default 4, measured in bench.pacing_sim) makes up for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dialer.pacing.abandon_math import binomial_excess, excess_table

_QUANTILES = (0.2, 0.4, 0.6, 0.8, 1.0)  # of the answer delay: the moments the look-ahead checks
_NEXT_SECOND = 1.0  # and the next second: answers of the calls ringing now against agents free now


@dataclass(frozen=True)
class RingTimes:
    """Histograms (1 s buckets, the last open-ended) of how long resolved dials rang: until the
    live answer, or until they ended unanswered (busy, failed, no answer, machine). Immutable."""

    max_s: int = 120
    answered: tuple[int, ...] = ()
    unanswered: tuple[int, ...] = ()

    @property
    def answers(self) -> int:
        return sum(self.answered)

    def record(self, rang_s: float, *, answered: bool) -> RingTimes:
        index = min(max(0, int(rang_s)), self.max_s - 1)
        counts = list(self.answered if answered else self.unanswered)
        counts += [0] * max(0, index + 1 - len(counts))
        counts[index] += 1
        if answered:
            return RingTimes(self.max_s, tuple(counts), self.unanswered)
        return RingTimes(self.max_s, self.answered, tuple(counts))

    def answer_delay_quantile(self, share: float) -> float:
        """The ring time by which `share` of the answered dials had answered (bucket ends)."""
        total, running = self.answers, 0
        for index, count in enumerate(self.answered):
            running += count
            if running >= share * total:
                return float(index + 1)
        return float(len(self.answered))


def _survival(counts: tuple[int, ...], seconds: float) -> float:
    """Share of `counts` lasting more than `seconds` (linear inside a 1 s bucket)."""
    total = sum(counts)
    if total == 0:
        return 0.0
    index = int(max(0.0, seconds))
    if index >= len(counts):
        return 0.0
    inside = counts[index] * (1.0 - (max(0.0, seconds) - index))
    return (inside + sum(counts[index + 1 :])) / total


@dataclass(frozen=True)
class RingCurves:
    answered: tuple[float, ...]  # S_a(t) for t = 0, 1, 2, ... seconds
    unanswered: tuple[float, ...]

    @staticmethod
    def of(ring: RingTimes) -> RingCurves:
        span = max(len(ring.answered), len(ring.unanswered)) + 1
        return RingCurves(
            tuple(_survival(ring.answered, t) for t in range(span)),
            tuple(_survival(ring.unanswered, t) for t in range(span)),
        )

    def at(self, curve: tuple[float, ...], seconds: float) -> float:
        index = int(max(0.0, seconds))
        if index + 1 >= len(curve):
            return 0.0
        part = max(0.0, seconds) - index
        return curve[index] * (1 - part) + curve[index + 1] * part

    def answer_chance(self, age_s: float, within_s: float, rate: float) -> float:
        """P(a dial ringing for `age_s` is answered within the next `within_s`), from Bayes:
        rate x (S_a(age) - S_a(age + within)) / (rate x S_a(age) + (1 - rate) x S_u(age))."""
        alive_answered = rate * self.at(self.answered, age_s)
        alive = alive_answered + (1 - rate) * self.at(self.unanswered, age_s)
        if alive <= 0:
            return 0.0
        return rate * (self.at(self.answered, age_s) - self.at(self.answered, age_s + within_s)) / alive


@dataclass(frozen=True)
class Checkpoint:
    """One moment `at_s` of the look-ahead: agents free by then plus the grace, answers by then."""

    at_s: float
    certain: int  # free for sure by at_s + grace
    maybe: float  # expected talking agents finishing by at_s + grace
    old_answers: float  # expected answers of the calls already ringing, by at_s
    new_share: float  # P(a call placed now is answered by at_s)


@dataclass(frozen=True)
class Lookahead:
    """The checkpoints of one decision, and the share of abandons n more calls would cause."""

    checkpoints: tuple[Checkpoint, ...]
    ringing: int
    waiting: int
    safety: float = 1.0  # the expected abandons are multiplied by this (see PacingParams)

    def abandon_share(self, calls: int, tables: list[list[float]]) -> float:
        """max over checkpoints of the expected answers finding no agent / all expected answers."""
        last = self.checkpoints[-1]
        answers = last.old_answers + calls * last.new_share
        if answers <= 0:
            return 0.0
        dials = self.ringing + calls
        worst = 0.0
        for point, table in zip(self.checkpoints, tables, strict=True):
            mean = point.old_answers + calls * point.new_share
            worst = max(worst, binomial_excess(table, dials, mean / dials if dials else 0.0) - table[0])
        return self.safety * worst / answers

    def tables(self, upto: int) -> list[list[float]]:
        """E[(waiting + x - free)+] for x in 0..upto, per checkpoint (free = certain + Poisson(maybe))."""
        return [excess_table(point.certain - self.waiting, point.maybe, upto) for point in self.checkpoints]

    def largest_safe(self, low: int, high: int, budget: float) -> int:
        """The most new calls in [low, high] whose abandon share stays within `budget`."""
        tables = self.tables(self.waiting + self.ringing + high)
        while low < high:
            middle = (low + high + 1) // 2
            if self.abandon_share(middle, tables) <= budget:
                low = middle
            else:
                high = middle - 1
        return low


def checkpoint_times(ring: RingTimes) -> tuple[float, ...]:
    """The moments checked: the next second and quantiles of the measured answer delay (ascending)."""
    return tuple(sorted({_NEXT_SECOND, *(ring.answer_delay_quantile(share) for share in _QUANTILES)}))


def timed_lookahead(
    ring: RingTimes,
    ages_s: tuple[float, ...],
    rate: float,
    free_by: Callable[[float], tuple[int, float]],
    *,
    waiting: int,
    safety: float,
) -> Lookahead:
    """The checkpoints of one decision. `free_by(t)`: (agents surely free, expected talking agents
    through their talk and wrap-up) by t seconds from now plus the abandon grace."""
    curves = RingCurves.of(ring)
    points = []
    for at_s in checkpoint_times(ring):
        certain, maybe = free_by(at_s)
        old = sum(curves.answer_chance(age, at_s, rate) for age in ages_s)
        points.append(Checkpoint(at_s, certain, maybe, old, curves.answer_chance(0.0, at_s, rate)))
    return Lookahead(tuple(points), len(ages_s), waiting, safety)
