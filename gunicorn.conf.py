"""gunicorn's settings for ``gunicorn wsgi:app`` started in this folder: the production ones.

They live in the package (``feedsvc/gunicorn_config.py``) so that an installed wheel has
them too: ``gunicorn -c python:feedsvc.gunicorn_config``.
"""

# gunicorn reads every setting name this module holds.
from feedsvc.gunicorn_config import *
