"""Feed markup reduced to clean text: tags stripped, entities decoded, whitespace collapsed."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

_SPACE = re.compile(r"\s+")
# C0/C1 control characters other than whitespace: PostgreSQL rejects NUL, and none of them is text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SKIP_CONTENT = frozenset({"script", "style", "template", "noscript", "iframe", "object"})


class _TextCollector(HTMLParser):
    """Collects character data, dropping script/style bodies; tags become word breaks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_CONTENT:
            self._skipping += 1
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt and not self._skipping:
                self.parts.append(f" {alt} ")
        self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_CONTENT and self._skipping:
            self._skipping -= 1
        self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def clean_text(markup: str) -> str:
    """'<p>Talks&nbsp;resume &amp; <b>hold</b></p>' -> 'Talks resume & hold'."""
    if not markup:
        return ""
    text = markup
    if "<" in text:
        collector = _TextCollector()
        collector.feed(text)
        collector.close()
        text = "".join(collector.parts)
    elif "&" in text:
        text = html.unescape(text)
    if "&" in text and re.search(r"&(#\d+|#x[0-9a-fA-F]+|[a-zA-Z]{2,8});", text):
        # Double-escaped entities ("&amp;#039;" in the source) are common in real feeds.
        text = html.unescape(text)
    text = _CONTROL.sub("", text)
    return _SPACE.sub(" ", text).strip()


def excerpt(text: str, limit: int) -> str:
    """`text` cut at a word boundary to at most `limit` characters, with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + "…"
