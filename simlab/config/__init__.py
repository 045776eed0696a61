"""Layer 1: experiments as validated data.

``schema`` (the pydantic models of an experiment, every default explicit), ``loader``
(YAML, paths and dicts to a :class:`~simlab.config.loader.Config`, its resolved form and
hash), ``scenarios`` (grid and list expansion into the batch axis), ``registry`` (one table
of components per kind, filled through the ``simlab.components`` entry points), ``universe``
(universe files) and ``validation`` (the one wording of every validation error).
It imports only ``errors`` (and ``kernels``) below it: components register themselves here,
the registry never imports them.
"""
