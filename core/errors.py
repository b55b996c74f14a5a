"""Errors that stop a run before any record is read.

Each carries a complete, human-readable message: the command line prints it as is and exits 2, so
the message must name what was wrong and where (topic, parameter, file and line).
"""


class SmartviewError(Exception):
    """A problem with what the user asked for; never a bug in smartview."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TopicError(SmartviewError):
    """A topic name, path or directory that cannot be used."""


class ModuleError(SmartviewError):
    """A module file that is missing, does not import, or breaks the module contract."""


class ParamError(SmartviewError):
    """A parameter that is unknown or whose value does not parse."""


class ConfigError(SmartviewError):
    """A configuration file that cannot be read."""


class HookError(SmartviewError):
    """A module's init or look_back hook raised: the run cannot start with these parameters."""
