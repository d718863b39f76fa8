"""The app's own settings, plus what a benchmark run needs and production gets elsewhere.

Static files are served through the finders (production runs collectstatic first), so the
browser benchmark loads the tab's CSS and scripts from gunicorn without writing into the tree.
"""

from __future__ import annotations

from b24app.settings import *  # noqa: F403

WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = False
