"""Immunobot's core: the glossary, its resolver and store, and the client that serves them on Discord."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("immunobot")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+source"
