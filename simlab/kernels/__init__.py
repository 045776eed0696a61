"""Numerical hot paths as pure array functions.

The contract: arrays and scalars in, arrays and scalars out; no pandas, config, logging or
I/O. CPU kernels are numba ``@njit(cache=True)`` and end in ``_nb``; an array-namespace
twin (numpy or cupy) ends in ``_xp``. Each kernel's docstring names the numpy/pandas
computation it equals, and its tests check it against that plain-numpy reference.
"""
