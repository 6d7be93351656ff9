"""The edge where text becomes a mail header or an .ics line: one cleaning rule for both, and
addresses in the form the wire needs.

`one_line` is the only place that decides which characters may reach a header or an .ics line:
line breaks (CR, LF, VT, FF, FS, GS, RS, NEL, U+2028, U+2029) and tabs become a space, every
other control character (C0, DEL, C1) is dropped. Whatever the database holds, a header cannot be
split or smuggled in.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email

_LINE_BREAKS = "\r\n\t\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_CONTROLS = [chr(c) for c in (*range(0x20), *range(0x7F, 0xA0))]
_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # _CONTROLS and U+2028/9
_CLEAN = str.maketrans(
    {c: None for c in _CONTROLS} | {c: " " for c in _LINE_BREAKS}  # breaks win over controls
)


class AddressError(ValueError):
    """An address that cannot go out as it is (the message fails, the others go on)."""


def one_line(value: str) -> str:
    """`value` with line breaks as spaces and other control characters removed (CRLF is one
    break)."""
    if _FORBIDDEN.search(value) is None:
        return value  # the common case, without a copy
    return value.replace("\r\n", "\n").translate(_CLEAN)


def _plain(value: str) -> bool:
    """Safe to write as it is (folded at spaces): printable ASCII, no encoded-word look-alike,
    no whitespace that a parser would drop, no word too long for a line."""
    return (
        value.isascii()
        and value.isprintable()
        and "=?" not in value
        and value == value.strip()
        and "  " not in value
        and all(len(word) <= 70 for word in value.split(" "))
    )


def _fold(value: str, linesep: str, width: int = 70) -> str:
    """Break before a space where a line would pass `width`: unfolding (removing the line
    break) gives `value` back exactly."""
    lines, line = [], ""
    for word in value.split(" "):
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return (linesep + " ").join(lines)


def header_value(value: str, linesep: str) -> str:
    """An unstructured header value (not an address) that is safe on the wire: cleaned by
    `one_line`; plain ASCII folded at spaces, anything else as RFC 2047 encoded words (base64,
    at most 75 characters each, one per folded line)."""
    value = one_line(value)
    if _plain(value):
        return value if len(value) <= 60 else _fold(value, linesep)
    return _encoded_words(value, linesep)


def _encoded_words(value: str, linesep: str) -> str:
    words, chunk = [], b""
    for char in value:
        encoded = char.encode("utf-8")
        if len(chunk) + len(encoded) > 45:  # 45 bytes → 60 base64 characters + 12 = 72
            words.append(chunk)
            chunk = b""
        chunk += encoded
    words.append(chunk)
    return (linesep + " ").join(f"=?utf-8?b?{base64.b64encode(w).decode('ascii')}?=" for w in words)


@dataclass(frozen=True)
class WireAddress:
    text: str  # as it goes into the envelope and the header
    needs_smtputf8: bool  # a non-ASCII local part: only with SMTPUTF8 (RFC 6531)


@lru_cache(maxsize=4096)
def wire_address(address: str) -> WireAddress:
    """`address` for the wire: checked (the same checker as the programme file's EmailStr), a
    non-ASCII domain IDNA-encoded, the local part kept as written. Raises AddressError."""
    if not isinstance(address, str):
        raise TypeError(f"adres is geen tekst maar {type(address).__name__}: {address!r}")
    try:
        checked = validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        raise AddressError(f"ongeldig e-mailadres {address!r} ({exc})") from exc
    local, _, domain = address.rpartition("@")
    if not domain.isascii():
        domain = checked.ascii_domain
    return WireAddress(f"{local}@{domain}", not local.isascii())


NAME_BYTES = 45  # what one encoded word of at most 75 characters carries
_PHRASE = re.compile(r"[A-Za-z0-9 !#$%&'*+/=?^_`{|}~.-]+")  # atext and spaces: safe quoted


def named_address(name: str | None, address: str, linesep: str) -> str:
    """`"Name" <address>` for a From, To or Reply-To header (`address` already wire-ready): a
    plain ASCII name as a quoted string, anything else (accents, quotes, commas) as RFC 2047
    encoded words, so no name can add or change an address."""
    name = " ".join(one_line(name or "").split())
    if not name:
        return address
    if _plain(name) and _PHRASE.fullmatch(name):
        return f'"{name}" <{address}>'
    # One encoded word (parsers disagree on the space between two in a name): a name longer
    # than one word holds (45 bytes of UTF-8) is shortened, with an ellipsis.
    if len(name.encode()) > NAME_BYTES:
        while len((name + "…").encode()) > NAME_BYTES:
            name = name[:-1]
        name += "…"
    return f"{_encoded_words(name, linesep)} <{address}>"
