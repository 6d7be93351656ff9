"""Click's and Typer's own texts in Dutch: help, usage, errors, and flags shown as flags.

Typer 0.2x vendors Click without gettext (`typer._click` builds its messages with f-strings), so
a catalogue would reach only the few texts Typer still wraps in `_()`. Instead `install()` sets
Typer's documented panel strings (`typer.rich_utils`), wraps the handful of places where the
rest is produced, and rewrites each error message from the exception's own fields (the option,
the value, pydantic's error type) rather than from its English text where it can.
Call `install()` once, before the app runs; it is idempotent.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from functools import wraps
from typing import Any

import typer
from typer import rich_utils

_click: Any = getattr(typer, "_click", None) or importlib.import_module("click")
_core: Any = importlib.import_module("typer.core")

HELP_TEXT = "Toon deze hulp en stop."

# Texts Typer passes through gettext (typer.core) or keeps as module strings (rich_utils).
GETTEXT = {
    "(dynamic)": "(dynamisch)",
    "Aborted!": "Afgebroken.",
    "default: {default}": "standaard: {default}",
    "required": "verplicht",
    "env var: {var}": "omgevingsvariabele: {var}",
    "Arguments": "Argumenten",
    "Options": "Opties",
    "Commands": "Opdrachten",
    "Missing command.": "Ontbrekende opdracht.",
    "No such command {name!r}.": "Onbekende opdracht {name!r}.",
}
PANEL_STRINGS = {
    "DEPRECATED_STRING": "(verouderd) ",
    "DEFAULT_STRING": "[standaard: {}]",
    "ENVVAR_STRING": "[omgevingsvariabele: {}]",
    "REQUIRED_LONG_STRING": "[verplicht]",
    "ARGUMENTS_PANEL_TITLE": "Argumenten",
    "OPTIONS_PANEL_TITLE": "Opties",
    "COMMANDS_PANEL_TITLE": "Opdrachten",
    "ERRORS_PANEL_TITLE": "Fout",
    "ABORTED_TEXT": "Afgebroken.",
    "RICH_HELP": "Probeer [blue]'{command_path} {help_option}'[/] voor hulp.",
}
USAGE_PIECES = {"[OPTIONS]": "[OPTIES]", "COMMAND [ARGS]...": "OPDRACHT [ARGUMENTEN]..."}
TYPE_LABELS = {"str": "tekst", "int": "getal", "float": "getal", "path": "pad", "file": "bestand",
               "directory": "map", "datetime": "tijdstip", "bool": "ja|nee"}

# Free-text usage errors (ctx.fail, the option parser, Typer's suggestions): English → Dutch.
MESSAGES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p), d)
    for p, d in (
        (r"^(?:No such command|Onbekende opdracht) '(.+?)'\.?(?: Did you mean (.+)\?)?$",
         "Onbekende opdracht '{0}'.{1}"),
        (r"^Missing command\.?$", "Ontbrekende opdracht."),
        (r"^Got unexpected extra argument\(s\) \((.+)\)$", "Onverwacht extra argument ({0})."),
        (r"^Option '(.+)' requires an argument\.$", "Optie '{0}' verwacht een waarde."),
        (r"^Option '(.+)' requires (\d+) arguments\.$", "Optie '{0}' verwacht {1} waarden."),
        (r"^Option '(.+)' does not take a value\.$", "Optie '{0}' neemt geen waarde."),
        (r"^Argument '(.+)' takes (\d+) values\.$", "Argument '{0}' verwacht {1} waarden."),
        (r"^No such option: (\S+)$", "Onbekende optie: {0}"),
        (r"^Value must be an iterable\.$", "verwacht een lijst"),
        (r"^'(.+)' is not one of (.+)\.$", "'{0}' is geen van {1}"),
    )
]

# pydantic error types (Typer validates option values with pydantic) → Dutch, with the value.
PYDANTIC = {
    "int_parsing": "{value!r} is geen geheel getal",
    "int_from_float": "{value!r} is geen geheel getal",
    "float_parsing": "{value!r} is geen getal",
    "bool_parsing": "{value!r} is geen ja/nee-waarde",
    "datetime_parsing": "{value!r} is geen tijdstip",
    "datetime_from_date_parsing": "{value!r} is geen tijdstip",
    "date_from_datetime_parsing": "{value!r} is geen datum",
    "uuid_parsing": "{value!r} is geen UUID",
    "greater_than_equal": "{value!r} is kleiner dan {ge}",
    "less_than_equal": "{value!r} is groter dan {le}",
    "missing": "ontbreekt",
}


def translate(text: str) -> str:
    """A free-text Click/Typer message in Dutch (unchanged when it is not one we know)."""
    for pattern, dutch in MESSAGES:
        match = pattern.match(text.strip())
        if match:
            groups = list(match.groups())
            if "Did you mean" in pattern.pattern:
                groups[1] = f" Bedoelde u {groups[1]}?" if groups[1] else ""
            return dutch.format(*groups)
    return text


def _value_message(exc: Any) -> str:
    """The reason a value was refused: from pydantic's error when Typer raised one."""
    cause = exc.__cause__
    errors = getattr(cause, "errors", None)
    if callable(errors):
        first = (errors() or [{}])[0]
        template = PYDANTIC.get(first.get("type", ""))
        if template:
            try:
                return template.format(value=first.get("input"), **(first.get("ctx") or {}))
            except (KeyError, IndexError):
                pass
        inner = (first.get("ctx") or {}).get("error")
        if inner is not None:  # a ValueError from a choice or a parser: its own text
            return translate(str(inner))
    return translate(str(exc.message).removeprefix("Value error, "))


def _hint(exc: Any) -> str | None:
    hint = exc.param_hint
    if hint is None and exc.param is not None:
        hint = exc.param.get_error_hint()
    if hint is not None and not isinstance(hint, str):
        hint = " / ".join(repr(h) for h in hint)
    return hint


def dutch_error(exc: Any) -> str:
    """The whole error line of a Click/Typer usage error, in Dutch."""
    if isinstance(exc, _click.exceptions.MissingParameter):
        kind = {"option": "optie", "argument": "argument"}.get(
            exc.param_type or (exc.param.param_type_name if exc.param else ""), "parameter"
        )
        hint = _hint(exc)
        choices = _choices(exc.param)
        return f"Ontbrekende {kind}{f' {hint}' if hint else ''}.{choices}"
    if isinstance(exc, _click.exceptions.NoSuchOption):
        text = f"Onbekende optie: {exc.option_name}"
        if exc.possibilities:
            text += f" (bedoelde u {', '.join(sorted(exc.possibilities))}?)"
        return text
    if isinstance(exc, _click.exceptions.BadParameter):
        hint = _hint(exc)
        reason = _value_message(exc)
        return f"Ongeldige waarde voor {hint}: {reason}" if hint else f"Ongeldige waarde: {reason}"
    return translate(exc.format_message())


def _choices(param: Any) -> str:
    desc = getattr(param, "type_descriptor", None)
    if desc is None or not getattr(desc, "is_choice", False) or not desc.choices:
        return ""
    return " Kies uit: " + ", ".join(str(getattr(c, "value", c)) for c in desc.choices) + "."


def _wrap(owner: Any, name: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    original = getattr(owner, name)
    if getattr(original, "_dutch", False):
        return
    replacement = wraps(original)(make(original))
    replacement._dutch = True  # type: ignore[attr-defined]
    setattr(owner, name, replacement)


def _format_error(original: Callable[..., Any]) -> Callable[..., Any]:
    def format_error(exc: Any) -> Any:
        text = dutch_error(exc)
        exc.format_message = lambda: text  # the instance's message; the class is untouched
        return original(exc)

    return format_error


def _usage(original: Callable[..., Any]) -> Callable[..., Any]:
    def write_usage(self: Any, prog: str, args: str = "", prefix: str | None = None) -> Any:
        return original(self, prog, args, "Gebruik: " if prefix is None else prefix)

    return write_usage


def _usage_pieces(original: Callable[..., Any]) -> Callable[..., Any]:
    def collect_usage_pieces(self: Any, ctx: Any) -> list[str]:
        return [USAGE_PIECES.get(piece, piece) for piece in original(self, ctx)]

    return collect_usage_pieces


def _help_option(original: Callable[..., Any]) -> Callable[..., Any]:
    def get_help_option(self: Any, ctx: Any) -> Any:
        option = original(self, ctx)
        if option is not None:
            option.help = HELP_TEXT
        return option

    return get_help_option


_LABEL = re.compile(r"\b(" + "|".join(TYPE_LABELS) + r")\b")


def _type_label(original: Callable[..., Any]) -> Callable[..., Any]:
    def display_type_rich(self: Any, ctx: Any) -> str | None:
        if getattr(self, "is_flag", False) and not getattr(self, "count", False):
            return None  # a flag takes no value: show none
        label = original(self, ctx)
        if label is None or getattr(self, "metavar", None) is not None:
            return label
        label = re.sub(r"^<list\[(.+)\]>$", r"<\1>...", label).replace(" range>", ">")
        return _LABEL.sub(lambda m: TYPE_LABELS[m.group(1)], label)

    return display_type_rich


def _gettext(message: str) -> str:
    return GETTEXT.get(message, message)


def install() -> None:
    """Put Click's and Typer's texts into Dutch for every app in this process."""
    for name, text in PANEL_STRINGS.items():
        setattr(rich_utils, name, text)
    usage = r"(?P<usage>Gebruik: )"
    if usage not in rich_utils.OptionHighlighter.highlights:
        rich_utils.OptionHighlighter.highlights = [*rich_utils.OptionHighlighter.highlights, usage]
    if getattr(_core, "_", None) is not None:
        _core._ = _gettext  # typer.core's gettext alias
    _wrap(rich_utils, "rich_format_error", _format_error)
    _wrap(_click.formatting.HelpFormatter, "write_usage", _usage)
    for cls in (_click.core.Command, getattr(_core, "TyperGroup", None)):
        if cls is not None and "collect_usage_pieces" in vars(cls):
            _wrap(cls, "collect_usage_pieces", _usage_pieces)
    _wrap(_click.core.Command, "get_help_option", _help_option)
    for cls in (_core.TyperOption, getattr(_core, "_TyperParameter", None)):
        if cls is not None and "display_type_rich" in vars(cls):
            _wrap(cls, "display_type_rich", _type_label)
