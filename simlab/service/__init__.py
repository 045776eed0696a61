"""Layer 7, beside ``cli``: the book over HTTP (FastAPI), started by ``simlab serve``.

``settings`` (what the service serves and who may call it, read from the environment),
``book`` (the answers: the state, the targets, a dry run, attribution, alerts, a pipeline run),
``app`` (the routes, bearer-token auth, JSON errors; :func:`~simlab.service.app.create_app`).
Imports ``production``, ``lab``, ``analysis`` and below, never ``cli``; FastAPI is the
``service`` extra (``pip install 'simlab[service]'``).
"""
