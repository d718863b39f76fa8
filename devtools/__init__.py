"""Set-up shared by the tests and the benchmark, so neither copies it and bench never imports tests.

Development-only: the deployed app (b24app, widgets) never imports it, and neither does the
sandbox. It may import the sandbox's models, as the tests and the bench harness do, to arrange a
portal's state directly in its database.
"""
