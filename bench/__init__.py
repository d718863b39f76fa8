"""Deal Desk's benchmark suite (issue #7): `make bench`, or `python -m bench [name ...]`.

Not part of `make test`; see docs/performance.md for what each benchmark measures and the figures.
"""
