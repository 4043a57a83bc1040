"""Robust least squares for calibration: Huber M-estimates by IRLS with non-negative coefficients,
optionally constrained to a group's measured total, with covariance and fit-quality summaries."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import ConfigError

Z95 = 1.959964
MIN_TIME_S = 10e-6          # row weights use max(time, this)
TOTAL_ROW_WEIGHT = 1e3      # keep_total: the sum row's norm relative to the largest sample row


@dataclass
class Fit:
    """One fitted group: estimates, covariance, and how well it fits (all times in seconds)."""

    group: str
    names: list[str]
    coef: np.ndarray
    cov: np.ndarray
    measured: np.ndarray
    fitted: np.ndarray
    weights: np.ndarray         # final Huber weights (< 1: down-weighted outliers)
    dropped: list[str]          # parameters forced to 0 (a negative estimate)

    @property
    def se(self) -> np.ndarray:
        return np.sqrt(np.clip(np.diag(self.cov), 0.0, None))

    def quality(self) -> dict:
        resid = self.measured - self.fitted
        ss_tot = float(((self.measured - self.measured.mean()) ** 2).sum())
        rel = np.abs(resid) / np.maximum(self.measured, MIN_TIME_S)
        total = float(self.measured.sum())   # 0 for a group the runtime does not time (the real backend's finish)
        return {"n": len(resid), "rmse_s": float(np.sqrt((resid ** 2).mean())),
                "r2": 1.0 - float((resid ** 2).sum()) / ss_tot if ss_tot > 0 else 1.0,
                "median_rel_err": float(np.median(rel)), "sum_rel_err": float(resid.sum()) / total if total else 0.0,
                "outliers": int((self.weights < 0.5).sum())}

    def to_dict(self) -> dict:
        params = {}
        for i, name in enumerate(self.names):
            est, se = float(self.coef[i]), float(self.se[i])
            params[name] = {"estimate": est, "se": se, "ci95": [est - Z95 * se, est + Z95 * se],
                            "dropped": name in self.dropped}
        # profiles are written with sorted keys: ``names`` keeps the order of the covariance's rows
        return {"names": list(self.names), "params": params, "cov": self.cov.tolist(), "quality": self.quality()}


def huber_fit(group: str, X: np.ndarray, y: np.ndarray, names: list[str], offset: np.ndarray | None = None,
              delta: float = 1.345, weighted: bool = True, iters: int = 50, keep_total: bool = False) -> Fit:
    """Huber M-estimate of ``y ~ X @ coef + offset`` by IRLS, with coef >= 0.

    ``weighted``: rows are weighted by 1/sqrt(max(y, MIN_TIME_S)) (variance proportional to
    time). Residual scale is the MAD; ``delta`` = inf gives ordinary least squares. A negative
    estimate is set to 0 and the rest refitted. ``keep_total``: the fit must also reproduce the
    sum of ``y`` (one dominant extra row): robust shape, unbiased total, for groups whose noise is
    skewed (waits, occasional long gaps) and whose sum is what the online time is made of.
    ``cov`` is ``sigma^2 (X'WX)^-1`` with sigma^2 the weighted residual variance.
    """
    offset = np.zeros(len(y)) if offset is None else offset
    if len(y) < X.shape[1] + 1:
        raise ConfigError(f"calibration group {group!r}: {len(y)} samples for {X.shape[1]} parameters")
    base = 1.0 / np.sqrt(np.maximum(y, MIN_TIME_S)) if weighted else np.ones(len(y))
    keep = np.ones(X.shape[1], dtype=bool)
    while True:
        Xw, yw = X[:, keep] * base[:, None], (y - offset) * base
        if keep_total:
            k = TOTAL_ROW_WEIGHT * float(np.linalg.norm(Xw, axis=1).max()) / max(
                float(np.linalg.norm(X[:, keep].sum(axis=0))), 1e-300)
            Xw, yw = np.vstack([Xw, k * X[:, keep].sum(axis=0)]), np.r_[yw, k * (y - offset).sum()]
        coef, cov, hub = _irls(Xw, yw, delta, iters)
        if keep_total:  # the uncertainty is the samples', not the constraint's
            Xw, yw, hub = Xw[:len(y)], yw[:len(y)], hub[:len(y)]
            r = yw - Xw @ coef
            sigma2 = float((hub * r ** 2).sum()) / max(len(y) - len(coef), 1)
            norms = np.linalg.norm(Xw, axis=0)
            norms[norms == 0] = 1.0          # columns span 1e-3 to 1e9: invert at unit scale
            Xn = Xw / norms
            cov = sigma2 * np.linalg.pinv((Xn * hub[:, None]).T @ Xn) / np.outer(norms, norms)
        if (coef >= 0).all():
            break
        keep[np.flatnonzero(keep)[np.argmin(coef)]] = False
    full, full_cov = np.zeros(X.shape[1]), np.zeros((X.shape[1], X.shape[1]))
    full[keep] = coef
    full_cov[np.ix_(keep, keep)] = cov
    dropped = [n for n, k in zip(names, keep, strict=True) if not k]
    return Fit(group, list(names), full, full_cov, y, X @ full + offset, hub, dropped)


def _irls(X: np.ndarray, y: np.ndarray, delta: float, iters: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """IRLS on columns scaled to unit norm (features span 1 to 1e9: keeps X'WX well conditioned)."""
    norms = np.linalg.norm(X, axis=0)
    norms[norms == 0] = 1.0
    coef, cov, w = _irls_scaled(X / norms, y, delta, iters)
    return coef / norms, cov / np.outer(norms, norms), w


def _irls_scaled(X: np.ndarray, y: np.ndarray, delta: float, iters: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    w = np.ones(len(y))
    coef = np.linalg.lstsq(X, y, rcond=None)[0]
    for _ in range(iters):
        r = y - X @ coef
        scale = max(float(np.median(np.abs(r - np.median(r)))) / 0.6745, 1e-12)
        w = np.minimum(1.0, delta * scale / np.maximum(np.abs(r), 1e-300))
        sw = np.sqrt(w)
        new = np.linalg.lstsq(X * sw[:, None], y * sw, rcond=None)[0]
        if np.allclose(new, coef, rtol=1e-9, atol=1e-15):
            coef = new
            break
        coef = new
    r = y - X @ coef
    dof = max(len(y) - X.shape[1], 1)
    sigma2 = float((w * r ** 2).sum()) / dof
    xtwx = (X * w[:, None]).T @ X
    return coef, sigma2 * np.linalg.pinv(xtwx), w
