"""The engine: topics, modules, parameters and running maps. It never imports Textual."""

from .record import Record

__all__ = ["Record"]
