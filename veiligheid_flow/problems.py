"""Input problems with file, line, column, path and a plain Dutch message; YAML with positions."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

PathParts = tuple[str | int, ...]
_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available

# What one YAML file may hold. A programme has ~2,000 values and 8 levels; rule files far less.
MAX_BYTES = 2_000_000
MAX_NODES = 100_000
MAX_DEPTH = 40
MAX_SCALAR = 10_000  # characters in one value
MAX_INT_DIGITS = 18  # no field needs more; Python refuses > 4,300 digits with a traceback


def _dutch(n: int) -> str:
    return f"{n:,}".replace(",", ".")


class _Loader(_Base):  # type: ignore[misc, valid-type]
    """Safe loading; a date that does not exist or an absurd integer becomes a Problem."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.value_problems: list[tuple[yaml.Mark, str]] = []

    def construct_checked_timestamp(self, node: yaml.ScalarNode) -> Any:
        try:
            return self.construct_yaml_timestamp(node)
        except (ValueError, OverflowError):
            self.value_problems.append((node.start_mark, f"'{node.value}' is geen bestaande datum"))
            return node.value

    def construct_checked_int(self, node: yaml.ScalarNode) -> Any:
        if sum(c.isdigit() for c in str(node.value)) > MAX_INT_DIGITS:
            digits = len(str(node.value))
            self.value_problems.append((node.start_mark, f"getal is te groot ({digits} cijfers)"))
            return None
        return self.construct_yaml_int(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_checked_timestamp)
_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_checked_int)


_TOO_DEEP = f"te diep genest (meer dan {MAX_DEPTH} niveaus)"


class _Refused(Exception):
    def __init__(self, mark: yaml.Mark | None, message: str) -> None:
        self.mark, self.message = mark, message


def _check_shape(text: str) -> None:
    """Walk the event stream once (no document is built) and stop at the first thing out of
    bounds. Aliases are refused outright: no programme or rule file needs them, one alias makes
    a node appear at several paths (which line is wrong?), and nested aliases are how a
    600-byte file expands into gigabytes."""
    loader = _Base(text)
    nodes = depth = 0
    try:
        while (event := loader.get_event()) is not None:
            if isinstance(event, yaml.AliasEvent):
                raise _Refused(
                    event.start_mark,
                    f"YAML-verwijzing *{event.anchor} is niet toegestaan; schrijf de waarde voluit",
                )
            if isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
                continue
            if not isinstance(event, yaml.NodeEvent):
                continue
            nodes += 1
            if nodes > MAX_NODES:
                raise _Refused(
                    event.start_mark, f"te veel waarden (meer dan {_dutch(MAX_NODES)})"
                )
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise _Refused(event.start_mark, _TOO_DEEP)
            elif isinstance(event, yaml.ScalarEvent) and len(event.value) > MAX_SCALAR:
                raise _Refused(
                    event.start_mark,
                    f"waarde is te lang ({_dutch(len(event.value))} tekens; "
                    f"hooguit {_dutch(MAX_SCALAR)})",
                )
    except yaml.MarkedYAMLError as exc:
        if "nesting depth" not in str(exc.problem):  # libyaml's own limit (1,000 flow levels)
            raise
        raise _Refused(exc.problem_mark, _TOO_DEEP) from None
    finally:
        loader.dispose()


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return _printable(f"{self.file}:{self.line}:{self.column}: {where}{self.message}")


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _printable(text: str) -> str:
    """One line whatever the input held: control characters as escapes (\\n, \\x00)."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


class InputInvalid(Exception):
    """Raised with every problem found; nothing has been changed."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


_OPENERS = {"flow sequence": ("[", "de lijst", "]"), "flow mapping": ("{", "het blok", "}")}


def _char_at(text: str, mark: yaml.Mark | None) -> str:
    lines = text.splitlines()
    if mark is None or mark.line >= len(lines) or mark.column >= len(lines[mark.line]):
        return ""
    return lines[mark.line][mark.column]


def yaml_syntax_message(exc: yaml.MarkedYAMLError, text: str) -> str:
    """libyaml's problem in Dutch, with a hint and where the unclosed bracket or quote began."""
    problem, context = str(exc.problem or ""), str(exc.context or "")
    start = exc.context_mark
    began = f"regel {start.line + 1}, kolom {start.column + 1}" if start else "?"
    for kind, (opener, what, closer) in _OPENERS.items():
        if kind in context:
            return (
                f"'{opener}' op {began} is niet gesloten; sluit {what} met '{closer}' "
                "(en zet een komma tussen de waarden)"
            )
    if "quoted scalar" in context:
        quote = _char_at(text, start) or '"'
        return (
            f"aanhalingsteken op {began} is niet gesloten; sluit de tekst met '{quote}'"
            + (" (een ' in de tekst schrijf je als '')" if quote == "'" else "")
        )
    if "mapping values are not allowed" in problem:
        return (
            "onverwachte ':'; zet tekst met ':' tussen aanhalingstekens, of controleer het "
            "inspringen"
        )
    if "cannot start any token" in problem:
        char = _char_at(text, exc.problem_mark)
        if char == "\t":
            return "tab gevonden; spring in met spaties, niet met tabs"
        return f"teken '{char}' kan geen waarde beginnen; zet de tekst tussen aanhalingstekens"
    if "could not find expected ':'" in problem:
        return f"de sleutel op {began} mist een ':'; schrijf 'sleutel: waarde'"
    if "expected '-' indicator" in problem:
        return f"verwacht een '-' zoals in de lijst op {began}; controleer het inspringen"
    if "expected key" in problem or "expected <block end>" in problem:
        return (
            f"onverwacht teken in het blok dat op {began} begint; controleer het inspringen, "
            "of zet de tekst tussen aanhalingstekens"
        )
    if "undefined alias" in problem or "alias" in context:
        return "YAML-verwijzing (*naam) is niet toegestaan; schrijf de waarde voluit"
    if "unexpected end of stream" in problem:
        return f"onverwacht einde van het bestand (begonnen op {began})"
    if "expected <document start>" in problem or "document" in context:
        return "onverwachte inhoud na het document; één document per bestand, zonder '---' ertussen"
    return f"het bestand is geen geldige YAML ({problem or exc})"


def format_path(parts: Iterable[str | int]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


class PositionedYaml:
    """A parsed YAML file that can tell the line and column of any path in it."""

    def __init__(self, path: Path, text: str) -> None:
        self.file = str(path)
        self.positions: dict[PathParts, tuple[int, int]] = {}
        self.duplicate_keys: list[tuple[PathParts, str]] = []
        loader = _Loader(text)
        try:
            _check_shape(text)
            node = loader.get_single_node()  # one parse: positions and data from the same nodes
            self.data: Any = loader.construct_document(node) if node is not None else None
        except _Refused as exc:
            raise InputInvalid([self._at(exc.mark, exc.message)]) from None
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            reason = yaml_syntax_message(exc, text)
            raise InputInvalid([self._at(mark, f"YAML-syntaxfout: {reason}")]) from None
        finally:
            loader.dispose()
        if loader.value_problems:
            raise InputInvalid([self._at(mark, message) for mark, message in loader.value_problems])
        if node is not None:
            self._walk(node, ())

    def _at(self, mark: yaml.Mark | None, message: str) -> Problem:
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        return Problem(self.file, line, col, "", message)

    @classmethod
    def read(cls, path: Path) -> PositionedYaml:
        try:
            with path.open("rb") as handle:
                raw = handle.read(MAX_BYTES + 1)  # never more: a huge file or a device is refused
            if len(raw) > MAX_BYTES:
                message = f"bestand is te groot (meer dan {_dutch(MAX_BYTES)} bytes)"
                raise InputInvalid([Problem(str(path), 1, 1, "", message)])
            text = raw.decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problem = Problem(str(path), 1, 1, "", f"kan bestand niet lezen: {exc}")
            raise InputInvalid([problem]) from None
        return cls(path, text)

    def _walk(self, node: yaml.Node, path: PathParts) -> None:
        self.positions.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in node.value:
                key = str(key_node.value)
                child = (*path, key)
                if key in seen:
                    self.duplicate_keys.append((child, key))
                seen.add(key)
                self.positions[child] = (
                    key_node.start_mark.line + 1,
                    key_node.start_mark.column + 1,
                )
                self._walk(value_node, child)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self._walk(item, (*path, index))

    def problem(self, path: PathParts, message: str) -> Problem:
        probe = tuple(path)
        while probe not in self.positions and probe:
            probe = probe[:-1]
        line, col = self.positions.get(probe, (1, 1))
        return Problem(self.file, line, col, format_path(path), message)

    def duplicate_key_problems(self) -> list[Problem]:
        return [
            self.problem(p, f"sleutel '{k}' staat er twee keer") for p, k in self.duplicate_keys
        ]

    def validation_problems(self, error: ValidationError, prefix: PathParts = ()) -> list[Problem]:
        return [
            self.problem((*prefix, *_clean_loc(item["loc"])), dutch_message(item))
            for item in error.errors()
        ]


def _clean_loc(loc: tuple[Any, ...]) -> PathParts:
    return tuple(part for part in loc if isinstance(part, int | str) and "[" not in str(part))


_MESSAGES = {
    "missing": "verplicht veld ontbreekt",
    "extra_forbidden": "onbekend veld",
    "date_from_datetime_parsing": "geen geldige datum (verwacht JJJJ-MM-DD)",
    "date_parsing": "geen geldige datum (verwacht JJJJ-MM-DD)",
    "date_type": "geen geldige datum (verwacht JJJJ-MM-DD)",
    "date_from_datetime_inexact": "geen geldige datum (verwacht JJJJ-MM-DD)",
    "int_parsing": "geen geheel getal",
    "int_type": "geen geheel getal",
    "float_parsing": "geen getal",
    "float_type": "geen getal",
    "decimal_parsing": "geen bedrag",
    "bool_parsing": "verwacht true of false",
    "bool_type": "verwacht true of false",
    "string_type": "verwacht tekst",
    "list_type": "verwacht een lijst",
    "model_type": "verwacht een blok met velden",
    "dict_type": "verwacht een blok met velden",
    "string_pattern_mismatch": "ongeldige code: alleen letters, cijfers, '.', '_' en '-'",
    "string_too_short": "mag niet leeg zijn",
    "string_too_long": "is te lang",
    "too_short": "mag niet leeg zijn",
    "int_parsing_size": "getal is te groot",
    "int_from_float": "geen geheel getal",
    "finite_number": "moet een eindig getal zijn",
}


def dutch_message(item: Any) -> str:
    kind = item["type"]
    ctx = item.get("ctx") or {}
    if kind in _MESSAGES:
        return _MESSAGES[kind]
    if kind == "too_long":
        return f"te veel onderdelen (hooguit {ctx.get('max_length')})"
    if kind == "literal_error":
        return f"ongeldige waarde {item.get('input')!r}; toegestaan: {ctx.get('expected')}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        sign = {"greater_than": ">", "greater_than_equal": "≥", "less_than": "<"}.get(kind, "≤")
        limit = next(iter(ctx.values()))
        if isinstance(limit, float) and limit.is_integer():
            limit = int(limit)  # "≤ 2000", not "≤ 2000.0"
        return f"moet {sign} {limit} zijn"
    if kind == "value_error":
        message = str(ctx.get("error", item["msg"]))
        if "email" in message.lower() or "@" in message:
            return f"ongeldig e-mailadres {item.get('input')!r}: {message}"
        return message
    return item["msg"]
