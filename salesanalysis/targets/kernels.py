"""Numeric kernels of the target decomposition (arrays in, arrays out; no pandas).

- :func:`largest_remainder`: round a vector to a unit so that it sums to a given total (also
  used by the review's re-planning: the package's only largest-remainder rounding).
- :func:`controlled_round`: the same under several group-sum constraints at once (pins, the
  cells of a month, the months of a rep, ...): largest remainder generalised to a small integer
  programme solved by HiGHS (``scipy.optimize.milp``).
- :func:`ipf`: iterative proportional fitting of a seed table to several margins at once.
- :func:`fit_constraints`: move an allocation as little as possible (proportionally) so that
  group sums (pins, the total), lower bounds (floors) and upper bounds (caps) all hold; or name
  the constraints that cannot hold together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from scipy.sparse import csr_array

__all__ = [
    "Group",
    "IPFResult",
    "largest_remainder",
    "controlled_round",
    "ipf",
    "fit_constraints",
    "find_conflict",
]


@dataclass(frozen=True)
class Group:
    """A named group-sum constraint: ``sum(x[index]) == target``."""

    name: str
    index: np.ndarray
    target: float


@dataclass(frozen=True)
class IPFResult:
    table: np.ndarray
    iterations: int
    max_abs_error: float  # largest absolute margin error, in the table's unit
    converged: bool


# --------------------------------------------------------------------------- rounding


def largest_remainder(
    values: Sequence[float] | np.ndarray, unit: float, total: float | None = None
) -> np.ndarray:
    """Round ``values`` to multiples of ``unit`` so that they sum exactly to ``total``.

    The one largest-remainder rounding of the package (target decomposition and re-planning).
    ``total`` defaults to the rounded sum of the values; it must be a multiple of ``unit``.
    Every value is rounded down, then the units still missing go to the largest remainders
    (ties: first position). Negative values are allowed (rounded the same way).

    When the values are too far from ``total`` for rounding alone to reach it (more than one
    unit per value, e.g. float noise on tiny or denormal amounts, or all zeros), they are first
    brought to the total: in proportion to the values when they are non-negative with a positive
    sum (proportions taken *before* scaling, so tiny or denormal values keep their share and
    the total is not lost), else by spreading the difference evenly. The result always sums to
    ``total`` exactly in units of ``unit``.

    Raises:
        ValueError: ``total`` is not a multiple of ``unit``, a value is not finite, or there
            are no values to carry a non-zero total.
    """
    raw = np.asarray(values, dtype=float).ravel()
    if not np.all(np.isfinite(raw)):
        raise ValueError("cannot round values that are not finite (NaN or infinite)")
    v = raw / unit
    if total is None:
        n_total = int(np.round(v.sum()))
    else:
        exact = total / unit
        n_total = int(np.round(exact))
        if abs(n_total - exact) > max(1e-6, 1e-12 * abs(exact)):
            raise ValueError(f"total {total} is not a multiple of the unit {unit}")
    n = len(v)
    if n == 0:
        if n_total:
            raise ValueError(f"no values to carry the total {total}")
        return np.zeros(0)
    base = np.floor(v + 1e-9)
    k = n_total - int(base.sum())
    if k < 0 or k > n:
        if np.all(raw >= 0) and raw.max() > 0:
            w = raw / raw.max()  # proportions first: no overflow, no loss on tiny values
            v = n_total * (w / w.sum())
        else:
            v = v + (n_total - v.sum()) / n
        base = np.floor(v + 1e-9)
        k = n_total - int(base.sum())
    rem = v - base
    if k > 0:  # the missing units to the largest remainders (cycling: only float noise)
        order = np.argsort(-rem, kind="stable")
        np.add.at(base, order[np.arange(k) % n], 1.0)
    elif k < 0:  # units too many (float noise only): off the smallest remainders
        order = np.argsort(rem, kind="stable")
        np.add.at(base, order[np.arange(-k) % n], -1.0)
    return base * unit


def controlled_round(
    values: np.ndarray,
    unit: float,
    groups: Sequence[Group],
    lower: np.ndarray | None = None,
    upper: np.ndarray | None = None,
) -> np.ndarray | None:
    """Round ``values`` to ``unit`` so that every group sums exactly to its target.

    Each value goes to the multiple of ``unit`` just below or just above it, chosen to keep the
    total rounding error smallest (with only a total constraint this is exactly the
    largest-remainder method). ``lower``/``upper`` bound the rounded values when given.
    Returns ``None`` when no such rounding exists.
    """
    v = np.asarray(values, dtype=float) / unit
    n = len(v)
    if n == 0:
        return np.zeros(0)
    base = np.floor(v + 1e-9)
    frac = np.clip(v - base, 0.0, 1.0)
    # cost of rounding up minus cost of rounding down: (1 - f) - f
    c = 1.0 - 2.0 * frac
    lb = np.zeros(n)
    ub = np.ones(n)
    if lower is not None:
        lb = np.maximum(lb, np.ceil(np.asarray(lower, float) / unit - 1e-9) - base)
    if upper is not None:
        ub = np.minimum(ub, np.floor(np.asarray(upper, float) / unit + 1e-9) - base)
    if np.any(lb > ub):
        return None
    rows, cols, rhs = [], [], []
    for gi, g in enumerate(groups):
        idx = np.asarray(g.index, dtype=int)
        need = g.target / unit - base[idx].sum()
        if abs(need - round(need)) > 1e-6:
            raise ValueError(f"group '{g.name}' target {g.target} is not a multiple of {unit}")
        rows.extend([gi] * len(idx))
        cols.extend(idx.tolist())
        rhs.append(round(need))
    if not groups:
        return (base + (frac >= 0.5)) * unit
    a = csr_array((np.ones(len(rows)), (rows, cols)), shape=(len(groups), n))
    res = milp(
        c,
        constraints=LinearConstraint(a, rhs, rhs),
        integrality=np.ones(n),
        bounds=Bounds(lb, ub),
        options={"presolve": True},
    )
    if res.status != 0 or res.x is None:
        return None
    return (base + np.round(res.x)) * unit


# --------------------------------------------------------------------------- IPF


def ipf(
    seed: np.ndarray, margins: Sequence[np.ndarray], *, tol: float = 1e-9, max_iter: int = 2000
) -> IPFResult:
    """Fit ``seed`` (an n-D array) to one margin per axis by iterative proportional fitting.

    ``tol`` is relative to the grand total. The caller checks that the margins agree with one
    another (same grand total) before calling.
    """
    x = np.asarray(seed, dtype=float).copy()
    total = float(np.sum(margins[0])) if margins else float(x.sum())
    scale = max(abs(total), 1e-300)
    axes = list(range(x.ndim))
    err = np.inf
    it = 0
    for it in range(1, max_iter + 1):
        for ax, m in enumerate(margins):
            other = tuple(a for a in axes if a != ax)
            cur = x.sum(axis=other)
            f = np.divide(m, cur, out=np.zeros_like(cur), where=cur > 0)
            shape = [1] * x.ndim
            shape[ax] = -1
            x = x * f.reshape(shape)
        err = max(
            float(np.max(np.abs(x.sum(axis=tuple(a for a in axes if a != ax)) - m)))
            for ax, m in enumerate(margins)
        )
        if err <= tol * scale:
            return IPFResult(x, it, err, True)
    return IPFResult(x, it, err, False)


# --------------------------------------------------------------------------- constraints


def _lp_feasible(n: int, groups: Sequence[Group], lower: np.ndarray, upper: np.ndarray) -> bool:
    if np.any(lower > upper + 1e-9):
        return False
    if not groups:
        return True
    rows, cols, rhs = [], [], []
    for gi, g in enumerate(groups):
        rows.extend([gi] * len(g.index))
        cols.extend(np.asarray(g.index, int).tolist())
        rhs.append(g.target)
    a = csr_array((np.ones(len(rows)), (rows, cols)), shape=(len(groups), n))
    scale = max(1.0, max(abs(t) for t in rhs))
    ub = [None if not np.isfinite(u) else u / scale for u in upper]
    res = linprog(
        np.zeros(n),
        A_eq=a,
        b_eq=np.asarray(rhs) / scale,
        bounds=list(zip(lower / scale, ub, strict=True)),
        method="highs",
    )
    return res.status == 0


def find_conflict(
    n: int,
    groups: Sequence[Group],
    lower: np.ndarray | None,
    upper: np.ndarray | None,
    lower_name: str = "floors",
    upper_name: str = "caps",
) -> list[str] | None:
    """Names of a smallest set of constraints that cannot hold together, or ``None``.

    The constraints are the groups, all lower bounds together (``lower_name``) and all upper
    bounds together (``upper_name``); a deletion filter finds an irreducible conflicting set.
    """
    lo = np.zeros(n) if lower is None else np.asarray(lower, float)
    up = np.full(n, np.inf) if upper is None else np.asarray(upper, float)
    zero, inf = np.zeros(n), np.full(n, np.inf)
    items: list[tuple[str, object]] = [(g.name, g) for g in groups]
    if lower is not None and np.any(lo > 0):
        items.append((lower_name, "lower"))
    if upper is not None and np.any(np.isfinite(up)):
        items.append((upper_name, "upper"))

    def feasible(active: list[tuple[str, object]]) -> bool:
        gs = [g for _, g in active if isinstance(g, Group)]
        use_lo = any(g == "lower" for _, g in active)
        use_up = any(g == "upper" for _, g in active)
        return _lp_feasible(n, gs, lo if use_lo else zero, up if use_up else inf)

    if feasible(items):
        return None
    keep = list(items)
    for item in list(items):
        trial = [i for i in keep if i is not item]
        if not feasible(trial):
            keep = trial
    return [name for name, _ in keep]


def _scale_into(x: np.ndarray, lo: np.ndarray, up: np.ndarray, target: float) -> np.ndarray:
    """Find f with sum(clip(f*x, lo, up)) == target (monotone in f) and return the clipped x."""

    def total(f: float) -> float:
        return float(np.clip(f * x, lo, up).sum())

    f_lo, f_hi = 0.0, 1.0
    while total(f_hi) < target and f_hi < 1e12:
        f_lo, f_hi = f_hi, f_hi * 2.0
    for _ in range(200):
        mid = 0.5 * (f_lo + f_hi)
        if total(mid) < target:
            f_lo = mid
        else:
            f_hi = mid
        if f_hi - f_lo <= 1e-15 * max(1.0, f_hi):
            break
    out = np.clip(f_hi * x, lo, up)
    # remove the last tiny residual on the free cells
    free = (out > lo) & (out < up)
    resid = target - out.sum()
    if free.any() and out[free].sum() > 0:
        out[free] += resid * out[free] / out[free].sum()
    return out


def fit_constraints(
    x: np.ndarray,
    groups: Sequence[Group],
    lower: np.ndarray | None = None,
    upper: np.ndarray | None = None,
    *,
    tol: float = 1e-9,
    max_cycles: int = 500,
) -> tuple[np.ndarray, int, float]:
    """Adjust ``x`` proportionally so every group sums to its target within the bounds.

    Cyclic proportional raking over the groups, clipping to the bounds (the rest of each group
    absorbs what a bound holds back). Falls back to a linear programme that minimises the
    weighted absolute change when raking does not converge. Call :func:`find_conflict` first:
    this assumes the constraints are feasible. Returns ``(x, cycles, max_abs_error)``.
    """
    x = np.asarray(x, dtype=float).copy()
    n = len(x)
    lo = np.zeros(n) if lower is None else np.asarray(lower, float)
    up = np.full(n, np.inf) if upper is None else np.asarray(upper, float)
    x = np.clip(x, lo, up)
    # a group with nothing to scale gets an even start
    for g in groups:
        idx = np.asarray(g.index, int)
        if g.target > lo[idx].sum() and x[idx].sum() <= lo[idx].sum() + 1e-12:
            x[idx] = np.maximum(x[idx], np.minimum(up[idx], lo[idx] + g.target / len(idx)))
    scale = max(1.0, max((abs(g.target) for g in groups), default=1.0))
    err = np.inf
    cycles = 0
    for cycles in range(1, max_cycles + 1):
        for g in groups:
            idx = np.asarray(g.index, int)
            x[idx] = _scale_into(x[idx], lo[idx], up[idx], g.target)
        err = max((abs(x[np.asarray(g.index, int)].sum() - g.target) for g in groups), default=0.0)
        if err <= tol * scale:
            return x, cycles, float(err)
    # fallback: min sum |x - x0| / w subject to the constraints
    w = np.maximum(np.abs(x), 1e-9 * scale)
    rows, cols, rhs = [], [], []
    for gi, g in enumerate(groups):
        rows.extend([gi] * len(g.index))
        cols.extend(np.asarray(g.index, int).tolist())
        rhs.append(g.target)
    a = csr_array((np.ones(len(rows)), (rows, cols)), shape=(len(groups), n)).toarray()
    # variables: y (n), d_plus (n), d_minus (n) with y - d_plus + d_minus = x
    eye = np.eye(n)
    a_eq = np.vstack([np.hstack([a, np.zeros((len(groups), 2 * n))]), np.hstack([eye, -eye, eye])])
    b_eq = np.concatenate([rhs, x])
    cost = np.concatenate([np.zeros(n), 1 / w, 1 / w])
    bounds = [(lo[i], None if not np.isfinite(up[i]) else up[i]) for i in range(n)]
    bounds += [(0, None)] * (2 * n)
    res = linprog(
        cost,
        A_eq=a_eq / scale,
        b_eq=b_eq / scale,
        bounds=[(b[0] / scale, None if b[1] is None else b[1] / scale) for b in bounds],
        method="highs",
    )
    if res.status != 0:
        return x, cycles, float(err)
    y = res.x[:n] * scale
    err = max((abs(y[np.asarray(g.index, int)].sum() - g.target) for g in groups), default=0.0)
    return y, cycles, float(err)
