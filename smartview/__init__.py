"""smartview: a terminal viewer for event streams, with Python map modules and live parameters."""

__version__ = "0.1.0"
