"""Which rules tell won hand-offs from the rest: an L1-regularised logistic regression of
"won" on the rules' units, with its penalty chosen by cross-validation.

Why this model: its coefficients are log-odds per unit of a rule, which is what points
are (a score adds points per unit), so a coefficient becomes points by one scale factor;
the L1 penalty sets rules that carry no signal to exactly zero instead of leaving noise
with small points. The penalty is the largest whose cross-validated log-loss is within one
standard error of the best (the "one-SE rule"): the sparsest model the data cannot tell
from the best one. Units are standardised before the penalty, so a rule is not favoured
for being counted in large numbers.

Everything is deterministic: the folds come from a fixed seed, so the same rows give the
same suggestion. statsmodels does the fitting; the rest is numpy.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import statsmodels.api as sm
from numpy.typing import NDArray
from scipy.stats import rankdata

FOLDS = 5
SEED = 20261206
# Penalty weights per row (statsmodels penalises the summed log-likelihood, so the grid
# scales with the rows): from almost none to every rule dropped.
PENALTIES = tuple(float(x) for x in np.geomspace(1e-4, 0.5, 25))
Z_95 = 1.959963984540054
CALIBRATION_BINS = 5

Matrix = NDArray[np.float64]
Vector = NDArray[np.float64]


@dataclass(frozen=True)
class Coefficient:
    """One rule's effect: log-odds of a win per unit of the rule."""

    per_unit: float
    """0.0: the penalty dropped the rule."""
    interval: tuple[float, float] | None
    """95% interval of `per_unit` given the rules kept (None when dropped)."""
    fold_signs: tuple[int, ...]
    """-1, 0 or 1 in each fold's fit: a rule whose sign flips between folds is unstable."""
    fold_per_unit: tuple[float, ...] = ()
    """`per_unit` as each fold's training rows alone give it: points from these score the
    fold's held-out rows, for a threshold judged on rows its points never saw."""

    @property
    def flips(self) -> bool:
        return 1 in self.fold_signs and -1 in self.fold_signs


@dataclass(frozen=True)
class CalibrationBin:
    predicted: float
    observed: float
    rows: int


@dataclass(frozen=True)
class Figures:
    """How well probabilities made on held-out folds match what happened."""

    auc: float | None
    brier: float
    bins: tuple[CalibrationBin, ...]


@dataclass(frozen=True)
class Learnt:
    coefficients: dict[str, Coefficient]
    folds: NDArray[np.int64]
    """The fold of each row."""
    penalty: float
    model: Figures
    current: Figures
    """The current rules' score on the same held-out folds, turned into a probability by a
    logistic fit on the training folds (a score alone is not a probability)."""


def learn(
    keys: Sequence[str],
    units: Matrix,
    won: Vector,
    current_scores: Vector,
    groups: NDArray[np.int64] | None = None,
) -> Learnt:
    """Select rules with the penalty, estimate the kept ones without it, and judge the
    model and the current rules on the same held-out folds.

    The estimates come from an unpenalised refit on the rules the penalty kept (a "relaxed
    lasso"): the penalty is good at choosing, but it shrinks what it keeps, and intervals
    around shrunk estimates would be centred in the wrong place. The intervals do not
    account for the choosing itself, which the fold-stability rule stands in for."""
    folds = stratified_folds(won, groups)
    penalty = choose_penalty(units, won, folds)
    fold_betas = []
    fold_refits = []
    model_oof = np.zeros(len(won))
    current_oof = np.zeros(len(won))
    for k in range(FOLDS):
        train, test = folds != k, folds == k
        beta, predict = _fit_standardised(units[train], won[train], penalty)
        fold_betas.append(beta)
        fold_kept = [i for i in range(len(keys)) if beta[i] != 0]
        refit = np.zeros(len(keys))
        refit[fold_kept] = _refit(units[train][:, fold_kept], won[train])[0]
        fold_refits.append(refit)
        model_oof[test] = predict(units[test])
        current_oof[test] = _score_probability(current_scores[train], won[train])(
            current_scores[test]
        )
    beta, _ = _fit_standardised(units, won, penalty)
    kept = [i for i in range(len(keys)) if beta[i] != 0]
    refit, intervals = _refit(units[:, kept], won)
    coefficients = {}
    for i, key in enumerate(keys):
        signs = tuple(int(np.sign(round(b[i], 9))) for b in fold_betas)
        per_fold = tuple(float(r[i]) for r in fold_refits)
        if i in kept:
            j = kept.index(i)
            coefficients[key] = Coefficient(float(refit[j]), intervals[j], signs, per_fold)
        else:
            coefficients[key] = Coefficient(0.0, None, signs, per_fold)
    return Learnt(coefficients, folds, penalty, figures(model_oof, won), figures(current_oof, won))


def stratified_folds(won: Vector, groups: NDArray[np.int64] | None = None) -> NDArray[np.int64]:
    """A fold number per row: the rows of a group (a journey's hand-offs) in one fold, and
    groups with a win and groups without each spread evenly over the folds."""
    if groups is None:
        groups = np.arange(len(won))
    rng = np.random.default_rng(SEED)
    ids = np.unique(groups)
    any_won = np.array([won[groups == g].any() for g in ids])
    fold_of: dict[int, int] = {}
    for label in (True, False):
        chosen = ids[any_won == label]
        rng.shuffle(chosen)
        for n, group in enumerate(chosen):
            fold_of[int(group)] = n % FOLDS
    return np.array([fold_of[int(g)] for g in groups], dtype=np.int64)


def choose_penalty(units: Matrix, won: Vector, folds: NDArray[np.int64]) -> float:
    """The one-SE rule over PENALTIES, on held-out log-loss."""
    losses = np.zeros((len(PENALTIES), FOLDS))
    for i, penalty in enumerate(PENALTIES):
        for k in range(FOLDS):
            train, test = folds != k, folds == k
            _, predict = _fit_standardised(units[train], won[train], penalty)
            losses[i, k] = log_loss(predict(units[test]), won[test])
    mean = losses.mean(axis=1)
    se = losses.std(axis=1, ddof=1) / np.sqrt(FOLDS)
    best = int(np.argmin(mean))
    within = [i for i in range(len(PENALTIES)) if mean[i] <= mean[best] + se[best]]
    return PENALTIES[max(within)]


class _Logit(sm.Logit):
    """statsmodels' Logit, whose L1 fit does not fail when its covariance cannot be
    computed (rules that move together): the penalised fit only chooses rules here."""

    def cov_params_func_l1(self, likelihood_model: object, xopt: Vector, retvals: object) -> Matrix:
        try:
            return np.asarray(super().cov_params_func_l1(likelihood_model, xopt, retvals))
        except np.linalg.LinAlgError:
            return np.full((len(xopt), len(xopt)), np.nan)


def _l1(z: Matrix, won: Vector, penalty: float, **options: object) -> Any:
    """statsmodels' L1 fit of standardised units, the intercept (column 0) unpenalised.
    Its warnings (separation, convergence, a singular Hessian) are answered by the callers'
    verdicts, not printed."""
    alpha = np.full(z.shape[1], penalty * len(won))
    alpha[0] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _Logit(won, z).fit_regularized(
            method="l1", alpha=alpha, disp=False, maxiter=500, **options
        )


def _standardised(units: Matrix) -> tuple[Matrix, Vector, Vector]:
    mean = units.mean(axis=0)
    scale = units.std(axis=0)
    scale[scale == 0] = 1.0
    return sm.add_constant((units - mean) / scale, has_constant="add"), mean, scale


def _fit_standardised(units: Matrix, won: Vector, penalty: float) -> tuple[Vector, _Predictor]:
    """Per-unit coefficients and a predictor, from an L1 fit on standardised units (the
    intercept is not penalised)."""
    z, mean, scale = _standardised(units)
    result = _l1(z, won, penalty, trim_mode="size", size_trim_tol=1e-4)
    params = np.asarray(result.params, dtype=float)
    return params[1:] / scale, _Predictor(params, mean, scale)


def _refit(units: Matrix, won: Vector) -> tuple[Vector, list[tuple[float, float] | None]]:
    """Per-unit coefficients and their 95% intervals, barely penalised (a rule that
    separates the rows still gets a finite estimate, and no interval to trust)."""
    if units.shape[1] == 0:
        return np.zeros(0), []
    z, _, scale = _standardised(units)
    result = _l1(z, won, 1e-6, trim_mode="off")
    params = np.asarray(result.params, dtype=float)[1:]
    bse = np.asarray(result.bse, dtype=float)[1:]
    beta = params / scale
    intervals: list[tuple[float, float] | None] = []
    for i in range(len(beta)):
        if not np.isfinite(bse[i]) or bse[i] > 10:
            intervals.append(None)  # no information: separation or rules moving together
        else:
            half = Z_95 * bse[i] / scale[i]
            intervals.append((float(beta[i] - half), float(beta[i] + half)))
    return beta, intervals


@dataclass(frozen=True)
class _Predictor:
    params: Vector
    mean: Vector
    scale: Vector

    def __call__(self, units: Matrix) -> Vector:
        eta = self.params[0] + ((units - self.mean) / self.scale) @ self.params[1:]
        return _sigmoid(eta)


def _score_probability(scores: Vector, won: Vector) -> Callable[[Vector], Vector]:
    """A logistic fit of won on the score alone, barely penalised (a score that separates
    the training rows perfectly still gives finite probabilities)."""
    _, predict = _fit_standardised(scores.reshape(-1, 1), won, 1e-6)
    return lambda held_out: predict(held_out.reshape(-1, 1))


def _sigmoid(eta: Vector) -> Vector:
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(eta, -30, 30))), dtype=float)


def log_loss(p: Vector, won: Vector) -> float:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return float(-np.mean(won * np.log(p) + (1 - won) * np.log(1 - p)))


def auc(scores: Vector, won: Vector) -> float | None:
    """The chance a won row scores above a row that was not (ties count half)."""
    positives = int(won.sum())
    negatives = len(won) - positives
    if positives == 0 or negatives == 0:
        return None
    ranks = rankdata(scores)
    return float(
        (ranks[won.astype(bool)].sum() - positives * (positives + 1) / 2) / (positives * negatives)
    )


def figures(p: Vector, won: Vector) -> Figures:
    """AUC, Brier score and a reliability table in quantile bins of the prediction."""
    order = np.argsort(p, kind="stable")
    bins = tuple(
        CalibrationBin(float(p[part].mean()), float(won[part].mean()), len(part))
        for part in np.array_split(order, CALIBRATION_BINS)
        if len(part)
    )
    return Figures(auc(p, won), float(np.mean((p - won) ** 2)), bins)
