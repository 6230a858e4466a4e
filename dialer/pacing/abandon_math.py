"""The expected-abandons arithmetic of predictive pacing (dialer.pacing.decision's module doc has the
formula): agents free within the look-ahead Z = base + Poisson(lam), answers X ~ Binomial(F, a).

Owned here: `excess_table` (E[(x - Z)+] for every x) and `largest_safe` (the most calls in flight
whose expected abandon share stays within the budget). Pure; probabilities below e^-60 are dropped.
"""

from __future__ import annotations

import math

_NEGLIGIBLE_LOG_P = -60.0
_CERTAIN = 1.0 - 1e-12


def _poisson_cdf(lam: float, upto: int) -> list[float]:
    """P(K <= j) for j in 0..upto, K ~ Poisson(lam)."""
    if lam <= 0:
        return [1.0] * (upto + 1)
    cdf: list[float] = []
    total = 0.0
    for k in range(upto + 1):
        if total >= _CERTAIN and k > lam:
            return cdf + [1.0] * (upto + 1 - k)
        log_p = k * math.log(lam) - lam - math.lgamma(k + 1)
        total += math.exp(log_p) if log_p > _NEGLIGIBLE_LOG_P else 0.0
        cdf.append(min(1.0, total))
    return cdf


def excess_table(base: int, lam: float, upto: int) -> list[float]:
    """h[x] = E[(x - Z)+] for x in 0..upto, Z = base + Poisson(lam); h[x+1] = h[x] + P(Z <= x)."""
    cdf = _poisson_cdf(lam, max(upto - base, -base, 0))
    table = [sum((-base - k) * (cdf[k] - (cdf[k - 1] if k else 0.0)) for k in range(max(0, -base)))]
    for x in range(upto):
        table.append(table[-1] + (cdf[x - base] if x - base >= 0 else 0.0))
    return table


def _binomial_mean_of(table: list[float], calls: int, rate: float) -> float:
    """E[table[X]] for X ~ Binomial(calls, rate)."""
    if rate >= 1.0:
        return table[calls]
    log_a, log_b = math.log(rate), math.log1p(-rate)
    head = math.lgamma(calls + 1)
    total = 0.0
    for x in range(calls + 1):
        log_p = head - math.lgamma(x + 1) - math.lgamma(calls - x + 1) + x * log_a + (calls - x) * log_b
        if log_p > _NEGLIGIBLE_LOG_P:
            total += math.exp(log_p) * table[x]
    return total


def _abandon_share(table: list[float], calls: int, rate: float) -> float:
    if calls == 0 or rate <= 0:
        return 0.0
    return (_binomial_mean_of(table, calls, rate) - table[0]) / (calls * rate)


def largest_safe(low: int, high: int, table: list[float], rate: float, budget: float) -> int:
    """Largest F in [low, high] with abandon share <= budget (the share grows with F)."""
    while low < high:
        middle = (low + high + 1) // 2
        if _abandon_share(table, middle, rate) <= budget:
            low = middle
        else:
            high = middle - 1
    return low


def binomial_excess(table: list[float], calls: int, rate: float) -> float:
    """E[table[X]] for X ~ Binomial(calls, rate), the pmf by recurrence (cheap for the look-ahead's
    many checkpoints); terms past the mean below 1e-12 are dropped."""
    if calls <= 0 or rate <= 0:
        return table[0]
    if rate >= 1.0:
        return table[calls]
    odds = rate / (1.0 - rate)
    log_p0 = calls * math.log1p(-rate)
    if log_p0 < _NEGLIGIBLE_LOG_P:
        return _binomial_mean_of(table, calls, rate)
    p, total, mean = math.exp(log_p0), 0.0, calls * rate
    for x in range(calls + 1):
        total += p * table[x]
        if x > mean and p < 1e-12:
            break
        p *= (calls - x) / (x + 1) * odds
    return total
