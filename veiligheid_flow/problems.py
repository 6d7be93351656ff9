"""Input problems with file, line, column, path and a plain Dutch message; YAML with positions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

PathParts = tuple[str | int, ...]
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{self.file}:{self.line}:{self.column}: {where}{self.message}"


class InputInvalid(Exception):
    """Raised with every problem found; nothing has been changed."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


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
            node = loader.get_single_node()  # one parse: positions and data from the same nodes
            self.data: Any = loader.construct_document(node) if node is not None else None
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            reason = exc.problem or str(exc)
            raise InputInvalid(
                [Problem(self.file, line, col, "", f"YAML-syntaxfout: {reason}")]
            ) from None
        finally:
            loader.dispose()
        if node is not None:
            self._walk(node, ())

    @classmethod
    def read(cls, path: Path) -> PositionedYaml:
        try:
            text = path.read_text(encoding="utf-8")
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
}


def dutch_message(item: Any) -> str:
    kind = item["type"]
    ctx = item.get("ctx") or {}
    if kind in _MESSAGES:
        return _MESSAGES[kind]
    if kind == "literal_error":
        return f"ongeldige waarde {item.get('input')!r}; toegestaan: {ctx.get('expected')}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        sign = {"greater_than": ">", "greater_than_equal": "≥", "less_than": "<"}.get(kind, "≤")
        return f"moet {sign} {next(iter(ctx.values()))} zijn"
    if kind == "value_error":
        message = str(ctx.get("error", item["msg"]))
        if "email" in message.lower() or "@" in message:
            return f"ongeldig e-mailadres {item.get('input')!r}: {message}"
        return message
    return item["msg"]
