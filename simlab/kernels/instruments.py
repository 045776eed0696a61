"""Daily settlement of instruments that are not bought with cash: futures and fee-accruing funds.

A future is not paid for: each day the change of the contract held is settled into cash
(variation margin), and a fund whose price is gross of its expense ratio has its daily fee
taken from cash. Both are one pass over the book per day, before the day's NAV is written.
"""

from __future__ import annotations

from numba import njit


@njit(cache=True)
def settle_day_nb(holdings, cash, settle, fee_rate, price, fees_out):
    """Settle one day for B books: ``cash += holdings @ settle - holdings @ (fee_rate * price)``.

    Sums run in asset order (the same bits whatever the batch size). Equivalent to
    ``vm = (holdings * settle).sum(axis=1); fee = (holdings * fee_rate * price).sum(axis=1);
    cash += vm - fee; fees_out += fee``.

    Parameters
    ----------
    holdings : (B, N) float64 units held overnight into the day (contracts, shares).
    cash : (B,) float64, updated in place.
    settle : (N,) float64 money settled per unit held (a future's multiplier x its held
        contract's change; 0 for everything else).
    fee_rate : (N,) float64 fee per unit of value for the day (0 where none accrues).
    price : (N,) float64 the day's valuation price per unit (NaN-free).
    fees_out : (B,) float64, the day's fees are added here.
    """
    n_scen, n_assets = holdings.shape
    for b in range(n_scen):
        vm = 0.0
        fee = 0.0
        for n in range(n_assets):
            h = holdings[b, n]
            if h != 0.0:
                vm += h * settle[n]
                fee += h * fee_rate[n] * price[n]
        cash[b] += vm - fee
        fees_out[b] += fee
