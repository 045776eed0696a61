"""The daily settlement kernel against its numpy reference."""

import numpy as np

from simlab.kernels.instruments import settle_day_nb


def test_settle_day_matches_numpy():
    rng = np.random.default_rng(0)
    holdings = rng.normal(0, 10, (4, 6))
    holdings[1, 2] = 0.0
    cash = rng.normal(1e6, 1e4, 4)
    settle = rng.normal(0, 50, 6)
    fee_rate = np.abs(rng.normal(0, 1e-4, 6))
    price = rng.uniform(10, 100, 6)
    fees = np.zeros(4)
    expected_cash = cash + (holdings * settle).sum(axis=1) - (holdings * fee_rate * price).sum(axis=1)
    expected_fees = (holdings * fee_rate * price).sum(axis=1)
    settle_day_nb(holdings, cash, settle, fee_rate, price, fees)
    np.testing.assert_allclose(cash, expected_cash, rtol=1e-14)
    np.testing.assert_allclose(fees, expected_fees, rtol=1e-12)


def test_settle_day_is_batch_independent():
    rng = np.random.default_rng(1)
    holdings = rng.normal(0, 10, (5, 7))
    settle, fee_rate, price = rng.normal(0, 5, 7), np.full(7, 3e-5), rng.uniform(1, 9, 7)
    cash_all, fees_all = np.ones(5), np.zeros(5)
    settle_day_nb(holdings, cash_all, settle, fee_rate, price, fees_all)
    for b in range(5):
        cash_one, fees_one = np.ones(1), np.zeros(1)
        settle_day_nb(holdings[b:b + 1], cash_one, settle, fee_rate, price, fees_one)
        assert cash_one[0] == cash_all[b] and fees_one[0] == fees_all[b]
