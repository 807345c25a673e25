"""Telegram's HTML parse mode as TDLib reads it: plain text and entities, or the error text Telegram sends."""

from __future__ import annotations

from typing import Any

SUPPORTED_TAGS = frozenset(
    {"a", "b", "strong", "i", "em", "u", "ins", "s", "strike", "del"}
    | {"tg-spoiler", "span", "tg-emoji", "code", "pre", "blockquote"}
)
_SIMPLE = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}
# TDLib reads a C string: NUL counts as a space, which is how "end of input" stops its scanning loops.
_SPACES = frozenset(b" \t\r\n\v\0")
_NAMED = {b"lt": "<", b"gt": ">", b"amp": "&", b"quot": '"'}


class HtmlError(ValueError):
    """The text after "can't parse entities: " in Telegram's 400 answer."""


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def parse_html(html: str, *, strict_ampersand: bool = False) -> tuple[str, list[dict[str, Any]]]:
    """Return (text, entities) like Telegram, or raise HtmlError with its message and byte offsets.

    Telegram keeps an "&" that starts no known entity as literal text; ``strict_ampersand`` rejects it
    instead, because in generated text it means something was not escaped.
    """
    data = html.encode()
    scanner = _Scanner(data, strict_ampersand)
    out = bytearray()
    opened: list[tuple[str, str, int]] = []  # tag, argument, start position in `out`
    spans: list[dict[str, Any]] = []  # entities with byte positions, converted at the end
    i = 0
    while i < len(data):
        if data[i] == ord("&"):
            decoded, end = scanner.entity(i)
            if decoded is not None:
                out += decoded.encode()
                i = end
                continue
        if data[i] != ord("<"):
            out.append(data[i])
            i += 1
            continue
        begin, i = i, i + 1
        if scanner.at(i) != ord("/"):
            tag, argument, i = scanner.start_tag(begin, i)
            opened.append((tag, argument, len(out)))
            i += 1
            continue
        if not opened:
            raise HtmlError(f"Unexpected end tag at byte offset {begin}")
        while scanner.at(i) not in _SPACES and scanner.at(i) != ord(">"):
            i += 1
        end_name = data[begin + 2 : i].decode(errors="replace").lower()
        while scanner.at(i) in _SPACES and scanner.at(i) != 0:
            i += 1
        if scanner.at(i) != ord(">"):
            raise HtmlError(f"Unclosed end tag at byte offset {begin}")
        tag, argument, start = opened.pop()
        if end_name and end_name != tag:
            raise HtmlError(
                f'Unmatched end tag at byte offset {begin}, expected "</{tag}>", found "</{end_name}>"'
            )
        if len(out) > start:
            _add_entity(spans, tag, argument, start, len(out), out)
        i += 1
    if opened:
        raise HtmlError(f'Can\'t find end tag corresponding to start tag "{opened[-1][0]}"')
    return _finish(bytes(out), spans)


class _Scanner:
    def __init__(self, data: bytes, strict_ampersand: bool) -> None:
        self.data = data
        self.strict = strict_ampersand

    def at(self, i: int) -> int:
        return self.data[i] if i < len(self.data) else 0

    def entity(self, pos: int) -> tuple[str | None, int]:
        """Decode the reference at ``pos`` (``;`` optional, as in TDLib); None when it is not one."""
        end, code = pos + 1, 0
        if self.at(end) == ord("#"):
            end += 1
            hexadecimal = self.at(end) == ord("x")
            end += hexadecimal
            digits = b"0123456789abcdefABCDEF" if hexadecimal else b"0123456789"
            while self.at(end) and self.at(end) in digits:
                code = code * (16 if hexadecimal else 10) + int(chr(self.at(end)), 16)
                end += 1
            if code == 0 or code >= 0x10FFFF or end - pos >= 10:
                return self._literal(pos)
            if 0xD800 <= code <= 0xDFFF:
                raise HtmlError(
                    "Text contains invalid Unicode characters after decoding HTML entities, "
                    "check for unmatched surrogate code units"
                )
            decoded = chr(code)
        else:
            while chr(self.at(end)).isascii() and chr(self.at(end)).isalpha():
                end += 1
            if self.data[pos + 1 : end] not in _NAMED:
                return self._literal(pos)
            decoded = _NAMED[self.data[pos + 1 : end]]
        return decoded, end + 1 if self.at(end) == ord(";") else end

    def _literal(self, pos: int) -> tuple[None, int]:
        if self.strict:
            raise HtmlError(
                f'Unescaped "&" at byte offset {pos} (Telegram would show it as is; the fake is strict)'
            )
        return None, pos

    def start_tag(self, begin: int, i: int) -> tuple[str, str, int]:
        """Read a start tag from its name on; the returned index is at its ``>``."""
        while self.at(i) not in _SPACES and self.at(i) != ord(">"):
            i += 1
        if self.at(i) == 0:
            raise HtmlError(f"Unclosed start tag at byte offset {begin}")
        tag = self.data[begin + 1 : i].decode(errors="replace").lower()
        if tag not in SUPPORTED_TAGS:
            raise HtmlError(f'Unsupported start tag "{tag}" at byte offset {begin}')
        argument = ""
        while self.at(i) != ord(">"):
            while self.at(i) != 0 and self.at(i) in _SPACES:
                i += 1
            if self.at(i) == ord(">"):
                break
            name_begin = i
            while self.at(i) not in _SPACES and self.at(i) not in b"=>":
                i += 1
            name = self.data[name_begin:i].decode(errors="replace")
            if not name:
                raise HtmlError(f'Empty attribute name in the tag "{tag}" at byte offset {begin}')
            while self.at(i) != 0 and self.at(i) in _SPACES:
                i += 1
            if self.at(i) != ord("="):
                if self.at(i) == 0:
                    raise HtmlError(f'Unclosed start tag "{tag}" at byte offset {begin}')
                if tag == "blockquote" and name == "expandable":
                    argument = "expandable"
                continue
            i += 1
            while self.at(i) != 0 and self.at(i) in _SPACES:
                i += 1
            if self.at(i) == 0:
                raise HtmlError(f'Unclosed start tag "{tag}" at byte offset {begin}')
            value, i = self._attribute_value(i)
            if self.at(i) == 0:
                raise HtmlError(f"Unclosed start tag at byte offset {begin}")
            if (tag, name) in {("a", "href"), ("tg-emoji", "emoji-id")}:
                argument = value
            elif tag == "code" and name == "class" and value.startswith("language-"):
                argument = value.removeprefix("language-")
            elif tag == "span" and name == "class" and value.startswith("tg-"):
                argument = value.removeprefix("tg-")
        if tag == "span" and argument != "spoiler":
            raise HtmlError(f'Tag "span" must have class "tg-spoiler" at byte offset {begin}')
        return tag, argument, i

    def _attribute_value(self, i: int) -> tuple[str, int]:
        quote = self.at(i)
        if quote not in b"'\"":
            token_begin = i
            while chr(self.at(i)).isascii() and (chr(self.at(i)).isalnum() or chr(self.at(i)) in ".-"):
                i += 1
            if self.at(i) not in _SPACES and self.at(i) != ord(">"):
                raise HtmlError(f"Unexpected end of name token at byte offset {token_begin}")
            return self.data[token_begin:i].decode().lower(), i
        value = bytearray()
        i += 1
        while self.at(i) != quote and self.at(i) != 0:
            if self.at(i) == ord("&"):
                decoded, end = self.entity(i)
                if decoded is not None:
                    value += decoded.encode()
                    i = end
                    continue
            value.append(self.at(i))
            i += 1
        if self.at(i) == quote:
            i += 1
        return value.decode(errors="replace"), i


def _add_entity(
    spans: list[dict[str, Any]], tag: str, argument: str, start: int, end: int, out: bytes
) -> None:
    last = spans[-1] if spans else None
    same_span = last is not None and (last["start"], last["end"]) == (start, end)
    if tag in _SIMPLE:
        spans.append({"type": _SIMPLE[tag], "start": start, "end": end})
    elif tag == "tg-emoji":
        if not argument.isdigit() or int(argument) <= 0:
            raise HtmlError("Invalid custom emoji identifier specified")
        spans.append({"type": "custom_emoji", "start": start, "end": end, "custom_emoji_id": argument})
    elif tag == "a":
        url = argument or out[start:end].decode(errors="replace")
        spans.append({"type": "text_link", "start": start, "end": end, "url": url})
    elif tag == "pre" and same_span and last is not None and last["type"] == "code" and last.get("language"):
        last["type"] = "pre"
    elif tag == "pre":
        spans.append({"type": "pre", "start": start, "end": end})
    elif tag == "code" and same_span and last is not None and last["type"] == "pre" and argument:
        last["language"] = argument
    elif tag == "code":
        spans.append({"type": "code", "start": start, "end": end, "language": argument})
    elif tag == "blockquote":
        kind = "expandable_blockquote" if argument else "blockquote"
        spans.append({"type": kind, "start": start, "end": end})


def _finish(out: bytes, spans: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    entities = []
    for span in spans:
        start, end = span.pop("start"), span.pop("end")
        offset = utf16_len(out[:start].decode())
        entity = {"type": span.pop("type"), "offset": offset, "length": utf16_len(out[start:end].decode())}
        if entity["type"] == "code" or not span.get("language"):
            span.pop("language", None)  # only a code block inside pre keeps its language
        entities.append(entity | span)
    entities.sort(key=lambda entity: (entity["offset"], -entity["length"]))
    return out.decode(), entities
