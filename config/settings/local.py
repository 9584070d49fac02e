"""The embedded default: SQLite, the filesystem broker, the local Stripe emulator, DEBUG on."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
