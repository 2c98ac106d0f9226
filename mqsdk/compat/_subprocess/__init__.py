"""A directory ``mqsdk run-as-zmq`` puts on ``PYTHONPATH`` for the Python processes the
program starts: its ``zmq`` package hands ``import zmq`` to :mod:`mqsdk.compat` there
too (a kernel launched with ``sys.executable -m ...``, ``python -m zmq.curve_keygen``).
"""
