"""Typed module parameters: what a module's `Params` dataclass declares, and values parsed from strings.

Values arrive as strings (from `-e key=value`, a config file or an input box), the way Fluvio parses
each SmartModule parameter with `FromStr`. Parsing lives here so the command line and the viewer accept
exactly the same spellings.
"""

from __future__ import annotations

import enum
import re
import typing
from typing import TYPE_CHECKING, Any, Literal

from ..errors import ParamError

if TYPE_CHECKING:
    import dataclasses

TRUE_WORDS = frozenset({"true", "yes", "on", "1"})
FALSE_WORDS = frozenset({"false", "no", "off", "0"})

Kind = Literal["bool", "int", "float", "str", "choice"]

# Rust's `FromStr` for i64 and f64: ASCII digits, an optional sign, no spaces and no `_` (Python's int()
# and float() would also take `1_000`, `٣` and ` 5 `). Floats also take inf, infinity and nan, any case.
_INT = re.compile(r"[+-]?[0-9]+", re.ASCII)
_FLOAT = re.compile(r"[+-]?(?:inf|infinity|nan|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[+-]?[0-9]+)?)", re.ASCII | re.IGNORECASE)


class ParamSpec:
    """One parameter as a user sees it: its name, kind, default and (for choices) the allowed values.

    A plain slotted class rather than a dataclass: making a dataclass costs every start about half a
    millisecond, and this module is imported by every start. Read-only by convention.
    """

    __slots__ = ("name", "kind", "type", "default", "choices", "doc", "required")

    def __init__(self, name: str, kind: Kind, type: Any, default: Any, choices: tuple[Any, ...] = (),
                 doc: str = "", required: bool = False) -> None:
        self.name = name
        self.kind = kind
        self.type = type
        self.default = default
        self.choices = choices
        self.doc = doc
        self.required = required  # a SmartModule parameter its metadata does not mark optional

    @property
    def type_name(self) -> str:
        """How the type is spelled in listings and error messages."""
        if self.kind == "choice":
            return "one of " + ", ".join(format_value(c) for c in self.choices)
        return self.kind

    def parse(self, text: str) -> Any:
        """Turn a string into a value of this parameter's type, or raise ParamError naming all three."""
        value = _parse(self, text)
        if value is _INVALID:
            raise ParamError(
                f"parameter {self.name!r}: {text!r} is not a valid value; expected {self.expected()}"
            )
        return value

    def expected(self) -> str:
        if self.kind == "bool":
            return "a boolean (true/false, yes/no, on/off, 1/0)"
        if self.kind == "int":
            return "an integer"
        if self.kind == "float":
            return "a number"
        if self.kind == "str":
            return "a string"
        return "one of: " + ", ".join(format_value(c) for c in self.choices)


_INVALID = object()


def _parse(spec: ParamSpec, text: str) -> Any:
    if spec.kind == "bool":
        word = text.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        return _INVALID
    if spec.kind == "int":
        return int(text) if _INT.fullmatch(text) else _INVALID
    if spec.kind == "float":
        return float(text) if _FLOAT.fullmatch(text) else _INVALID
    if spec.kind == "str":
        return text
    return _parse_choice(spec, text)


def _parse_choice(spec: ParamSpec, text: str) -> Any:
    """Enum members match by name or by value; Literal choices by their text."""
    for choice in spec.choices:
        if isinstance(choice, enum.Enum):
            if text == choice.name or text == str(choice.value):
                return choice
        elif text == str(choice) or (isinstance(choice, bool) and text.lower() == str(choice).lower()):
            return choice
    return _INVALID


def format_value(value: Any) -> str:
    """The string form that parses back to `value`: what `-e` takes and what the copied command shows."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return value.name
    return str(value)


def describe(params_class: type | None, where: str) -> list[ParamSpec]:
    """The parameters a `Params` dataclass declares, in declaration order.

    `where` names the module file for error messages. Raises ParamError for a class that is not a
    dataclass, a field without a default, or a field of a type smartview cannot parse from a string.
    """
    if params_class is None:
        return []
    import dataclasses  # here, not at the top: a start without a module never needs it

    if not dataclasses.is_dataclass(params_class):
        raise ParamError(f"{where}: Params must be a dataclass (add @dataclass above 'class Params')")
    try:
        hints = typing.get_type_hints(params_class)
    except Exception as exc:  # an annotation naming something undefined
        raise ParamError(f"{where}: cannot resolve the types of Params: {exc}") from None
    specs = []
    for field in dataclasses.fields(params_class):
        specs.append(_spec_for(field, hints.get(field.name, field.type), where))
    return specs


def _spec_for(field: dataclasses.Field, annotation: Any, where: str) -> ParamSpec:
    import dataclasses

    if field.default is not dataclasses.MISSING:
        default = field.default
    elif field.default_factory is not dataclasses.MISSING:
        default = field.default_factory()
    else:
        raise ParamError(
            f"{where}: parameter {field.name!r} has no default; every Params field needs one "
            f"(for example `{field.name}: {_annotation_name(annotation)} = ...`)"
        )
    doc = str(field.metadata.get("doc", "")) if field.metadata else ""
    if annotation is bool:
        return ParamSpec(field.name, "bool", bool, default, doc=doc)
    if annotation in (int, float, str):
        return ParamSpec(field.name, annotation.__name__, annotation, default, doc=doc)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return ParamSpec(field.name, "choice", annotation, default, tuple(annotation), doc=doc)
    if typing.get_origin(annotation) is Literal:
        return ParamSpec(field.name, "choice", annotation, default, typing.get_args(annotation), doc=doc)
    raise ParamError(
        f"{where}: parameter {field.name!r} has type {_annotation_name(annotation)}; "
        "supported types are bool, int, float, str, an Enum or a Literal of choices"
    )


def _annotation_name(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) or str(annotation)


def parse_assignments(items: list[str]) -> dict[str, str]:
    """Split `key=value` strings at the first `=`; a later repeat of a key wins, as in most CLIs."""
    values: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ParamError(f"parameter {item!r} has no '='; write it as key=value")
        key = key.strip()
        if not key:
            raise ParamError(f"parameter {item!r} has no name before '='")
        values[key] = value
    return values


def build(params_class: type | None, specs: list[ParamSpec], values: dict[str, str], where: str = "Params") -> Any:
    """An instance of `Params` with the given string values parsed over the defaults.

    Missing keys keep their defaults (as in Fluvio). Unknown keys are an error that lists the known ones.
    A `Params` whose own checks (`__post_init__`) refuse the values is a ParamError naming `where` (the
    module file) and the values given: the author's check is a usage error, not a crash.
    """
    by_name = {spec.name: spec for spec in specs}
    unknown = [key for key in values if key not in by_name]
    if unknown:
        known = ", ".join(by_name) if by_name else "none: this module takes no parameters"
        raise ParamError(f"unknown parameter {unknown[0]!r}; known parameters: {known}")
    parsed = {key: by_name[key].parse(text) for key, text in values.items()}
    if params_class is None:
        return None
    try:
        return params_class(**parsed)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # SystemExit too: a module's check must not end smartview
        given = ", ".join(f"{key}={text}" for key, text in values.items()) or "the defaults"
        lines = str(exc).strip().splitlines()
        reason = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
        raise ParamError(f"{where}: Params refused {given}: {reason}") from None


def changed_from_default(params: Any, specs: list[ParamSpec]) -> dict[str, str]:
    """The parameters that differ from their defaults, as the strings `-e` takes."""
    return {
        spec.name: format_value(getattr(params, spec.name))
        for spec in specs
        if getattr(params, spec.name) != spec.default
    }
