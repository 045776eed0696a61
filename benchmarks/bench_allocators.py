"""Allocators per rebalance, beside PyPortfolioOpt and skfolio on the same problems.

    python benchmarks/bench_allocators.py [--sizes 20 100] [--rebalances 24] [--repeat 3]

Problems: at N=20 the built-in 20 S&P 500 stocks, at N=100 a seeded synthetic factor
market (``simlab.data.generate_market``); ``--rebalances`` month-start decision days, each
with the trailing 252 daily returns. Every tool gets the same inputs per rebalance:
simlab's Steps get the annualized sample covariance and mean through their context (as
the engine serves precomputed Features), the peers get the same covariance and mean
(PyPortfolioOpt) or the same returns window (skfolio, which estimates them itself). Caps:
25% a name at N=20, 5% at N=100.

Before timing, each pair is solved once and the largest weight difference is printed
(``max |dw|``): the timing is only worth reading where the answers agree. Then each tool
runs every rebalance ``--repeat`` times; the best pass, divided by the number of
rebalances, is the time per rebalance. ``ratio`` is peer time / simlab time (above 1:
simlab is faster). simlab's rows time the Step call for one scenario (B=1) and are
followed by the time the engine spends computing the Step's Features per decision row,
in one batch over all rebalances (``features/rebalance``).

simlab solver paths: ``native`` is the batched ADMM kernel (minimum variance, utility,
Black-Litterman), ``cvxpy`` is cvxpy with Clarabel through a compiled parametrized problem.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
import warnings

# One BLAS thread for every tool (set before numpy loads): the problems are small, and a
# thread pool per process oversubscribes a shared machine (a 100 x 100 eigh then takes
# hundreds of milliseconds instead of one). --blas-threads changes it.
if __name__ == "__main__":
    _threads = sys.argv[sys.argv.index("--blas-threads") + 1] if "--blas-threads" in sys.argv else "1"
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, _threads)

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common as C

WINDOW = 252
DELTA = 2.5


@dataclasses.dataclass
class Case:
    """One universe: returns (T, N) and the decision rows."""

    name: str
    returns: pd.DataFrame
    rows: np.ndarray
    cap: float


def make_case(n: int, rebalances: int) -> Case:
    from simlab.data import generate_market, load

    md = load("builtin:sp500_20") if n == 20 else generate_market(n_assets=n, n_days=WINDOW + 30 * rebalances, seed=7)
    r = md.returns()
    first = np.r_[True, np.asarray(r.index.month[1:] != r.index.month[:-1])]
    rows = np.flatnonzero(first)
    rows = rows[rows > WINDOW][-rebalances:]
    return Case(f"N={n}", r, rows, 0.25 if n == 20 else 0.05)


def window(case: Case, row: int) -> pd.DataFrame:
    return case.returns.iloc[row - WINDOW + 1 : row + 1]


# --------------------------------------------------------------------------- simlab Steps


def simlab_steps(cap: float) -> dict:
    from simlab.portfolio.allocators_opt import BlackLitterman, MeanCVaR, MeanVariance
    from simlab.portfolio.allocators_risk import (
        HierarchicalRiskParity,
        InverseVolatility,
        MinVariance,
        RiskParity,
    )

    bounded = {"estimator": "sample", "window": WINDOW, "max_weight": cap}
    return {
        "inverse_volatility": InverseVolatility(window=WINDOW),
        "risk_parity": RiskParity(estimator="sample", window=WINDOW),
        "hrp": HierarchicalRiskParity(estimator="sample", window=WINDOW),
        "hrp no reordering": HierarchicalRiskParity(estimator="sample", window=WINDOW, optimal_ordering=False),
        "min_variance native": MinVariance(**bounded, solver="native"),
        "min_variance cvxpy": MinVariance(**bounded, solver="cvxpy"),
        "max_sharpe cvxpy": MeanVariance(**bounded, objective="max_sharpe", mean_window=WINDOW),
        "utility native": MeanVariance(**bounded, objective="utility", risk_aversion=DELTA, mean_window=WINDOW,
                                       solver="native"),
        "utility cvxpy": MeanVariance(**bounded, objective="utility", risk_aversion=DELTA, mean_window=WINDOW,
                                      solver="cvxpy"),
        "black_litterman native": BlackLitterman(**bounded, delta=DELTA, solver="native"),
        "min_cvar cvxpy": MeanCVaR(window=WINDOW, estimator="sample", max_weight=cap),
    }


def contexts(case: Case):
    """One StepContext per rebalance (B=1) with the Features the Steps read, precomputed."""
    from simlab.data.market import PointInTimeView
    from simlab.features.base import FeatureInputs
    from simlab.features.covariance import Covariance
    from simlab.features.returns import MeanReturn
    from simlab.features.volatility import Volatility
    from simlab.contract.step import StepContext

    r = case.returns.to_numpy(float)
    close = np.cumprod(np.nan_to_num(1 + r), axis=0)
    inputs = FeatureInputs(case.returns.index, tuple(case.returns.columns), close, r, None, None, {}, None)
    feats, seconds = {}, {}
    for name, feature in {"cov": Covariance("sample", WINDOW), "vol": Volatility(WINDOW),
                          "mean": MeanReturn(WINDOW)}.items():
        feature.compute(inputs, case.rows[:1])  # warm-up: compiled kernels load from their cache
        t0 = time.perf_counter()
        feats[name] = feature.compute(inputs, case.rows)
        seconds[name] = (time.perf_counter() - t0) / len(case.rows)
    n = r.shape[1]
    ctxs = []
    for i, row in enumerate(case.rows):
        view = PointInTimeView({"close": close, "returns": r}, case.returns.index, int(row))
        ctxs.append(StepContext(
            t=int(row), date=case.returns.index[row], view=view, assets=tuple(case.returns.columns),
            tradeable=np.ones(n, dtype=bool), signal=np.full((1, n), np.nan), weights=np.zeros((1, n)),
            nav=np.ones(1), peak_nav=np.ones(1), meta=None, scenarios=("s",), rng=np.random.default_rng(0),
            features={k: v[i][None] for k, v in feats.items()}))
    return ctxs, seconds


# --------------------------------------------------------------------------- peers


def peer_calls(case: Case) -> dict:
    """Allocator name -> list of (peer label, fn(window returns) -> weights (N,))."""
    out: dict = {}
    try:
        import pypfopt

        def ef(r):
            return pypfopt.EfficientFrontier(r.mean() * 252, r.cov() * 252, weight_bounds=(0, case.cap))

        def bl(r):
            s = r.cov() * 252
            vol = np.sqrt(np.diag(s))
            prior = pd.Series((1 / vol) / (1 / vol).sum(), index=s.index)
            pi = pypfopt.black_litterman.market_implied_prior_returns(prior, DELTA, s, risk_free_rate=0.0)
            model = pypfopt.BlackLittermanModel(s, pi=pi, tau=0.05, absolute_views={s.index[0]: float(pi.iloc[0])},
                                                omega="idzorek", view_confidences=[1e-9])
            front = pypfopt.EfficientFrontier(model.bl_returns(), model.bl_cov(), weight_bounds=(0, case.cap))
            return _vec(front.max_quadratic_utility(risk_aversion=DELTA), s.index)

        out.setdefault("hrp no reordering", []).append(
            ("pypfopt HRPOpt", lambda r: _vec(pypfopt.HRPOpt(r).optimize("ward"), r.columns)))
        for key in ("min_variance native", "min_variance cvxpy"):
            out.setdefault(key, []).append(("pypfopt EF", lambda r: _vec(ef(r).min_volatility(), r.columns)))
        out.setdefault("max_sharpe cvxpy", []).append(("pypfopt EF", lambda r: _vec(ef(r).max_sharpe(), r.columns)))
        for key in ("utility native", "utility cvxpy"):
            out.setdefault(key, []).append(
                ("pypfopt EF", lambda r: _vec(ef(r).max_quadratic_utility(risk_aversion=DELTA), r.columns)))
        out.setdefault("black_litterman native", []).append(("pypfopt BL+EF", bl))
    except ImportError:
        print("PyPortfolioOpt not installed: its rows are skipped")
    from skfolio import RiskMeasure
    from skfolio.optimization import (
        HierarchicalRiskParity,
        InverseVolatility,
        MeanRisk,
        ObjectiveFunction,
        RiskBudgeting,
    )

    cap = case.cap
    out.setdefault("inverse_volatility", []).append(("skfolio", lambda r: InverseVolatility().fit(r).weights_))
    out.setdefault("risk_parity", []).append(
        ("skfolio RiskBudgeting", lambda r: RiskBudgeting(risk_measure=RiskMeasure.VARIANCE).fit(r).weights_))
    out.setdefault("hrp", []).append(("skfolio HRP", lambda r: HierarchicalRiskParity().fit(r).weights_))
    for key in ("min_variance native", "min_variance cvxpy"):
        out.setdefault(key, []).append(("skfolio MeanRisk", lambda r: MeanRisk(max_weights=cap).fit(r).weights_))
    out.setdefault("max_sharpe cvxpy", []).append(("skfolio MeanRisk", lambda r: MeanRisk(
        objective_function=ObjectiveFunction.MAXIMIZE_RATIO, max_weights=cap).fit(r).weights_))
    out.setdefault("min_cvar cvxpy", []).append(("skfolio MeanRisk", lambda r: MeanRisk(
        risk_measure=RiskMeasure.CVAR, max_weights=cap).fit(r).weights_))
    return out


def _vec(weights, index) -> np.ndarray:
    return pd.Series(weights).reindex(index).to_numpy(float)


# --------------------------------------------------------------------------- timing


def best_pass(fn, items, repeat: int) -> float:
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        for item in items:
            fn(item)
        best = min(best, time.perf_counter() - t0)
    return best / len(items)


def bench_case(case: Case, repeat: int) -> list[dict]:
    ctxs, feature_seconds = contexts(case)
    windows = [window(case, row) for row in case.rows]
    steps = simlab_steps(case.cap)
    peers = peer_calls(case)
    rows = []
    for name, step in steps.items():
        def run(ctx, step=step):
            return step(np.zeros((1, len(ctx.assets))), ctx)

        w_simlab = run(ctxs[-1])[0][0]  # also warms up compiled kernels and cvxpy templates
        t_simlab = best_pass(run, ctxs, repeat)
        feats = sum(feature_seconds[k] for k in step.features(1))
        rows.append({"case": case.name, "allocator": name, "tool": "simlab", "ms": 1e3 * t_simlab,
                     "features_ms": 1e3 * feats, "max_dw": np.nan, "ratio": np.nan})
        for label, fn in peers.get(name, []):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                w_peer = np.asarray(fn(windows[-1]), dtype=float)
                t_peer = best_pass(fn, windows, repeat)
            rows.append({"case": case.name, "allocator": name, "tool": label, "ms": 1e3 * t_peer,
                         "features_ms": np.nan, "max_dw": float(np.abs(w_peer - w_simlab).max()),
                         "ratio": t_peer / t_simlab})
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 100])
    parser.add_argument("--rebalances", type=int, default=24)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--blas-threads", default="1", help="BLAS threads of every tool (default 1)")
    args = parser.parse_args(argv)
    print(f"# Allocators per rebalance ({C.today()}; {C.machine()})")
    versions = C.versions()
    from importlib import metadata

    for name in ("cvxpy", "clarabel", "skfolio", "PyPortfolioOpt"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    print(f"{args.rebalances} rebalances, {WINDOW}-day window, best of {args.repeat} passes, "
          f"BLAS threads {os.environ.get('OPENBLAS_NUM_THREADS', 'default')}\n")
    table = pd.DataFrame([r for n in args.sizes for r in bench_case(make_case(n, args.rebalances), args.repeat)])
    fmt = {"ms": "{:.2f}".format, "features_ms": "{:.3f}".format, "max_dw": "{:.1e}".format, "ratio": "{:.1f}x".format}
    shown = table.copy()
    for col, f in fmt.items():
        shown[col] = [("" if pd.isna(v) else f(v)) for v in table[col]]
    shown = shown.rename(columns={"ms": "ms/rebalance", "features_ms": "features ms/rebalance",
                                  "max_dw": "max |dw|", "ratio": "ratio (peer/simlab)"})
    print(shown.to_markdown(index=False) if _has_tabulate() else shown.to_string(index=False))


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main()
