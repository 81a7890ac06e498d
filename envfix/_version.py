"""envfix's own version, as installed (one place, for the CLI, the lock file and caches)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("envfix")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"
