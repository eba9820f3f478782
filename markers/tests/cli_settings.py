"""Settings for running ``manage.py compile_marker`` in a subprocess test.

Django only discovers management commands of installed apps; until the project settings list
``markers``, the CLI test adds it here.
"""

from arv.settings import *  # noqa: F403
from arv.settings import INSTALLED_APPS

if "markers" not in INSTALLED_APPS:
    INSTALLED_APPS = [*INSTALLED_APPS, "markers"]
