"""Feed markup reduced to clean text: tags stripped, entities decoded, whitespace collapsed.

Regular expressions rather than an HTML parser: this runs on every title and summary of every
changed feed, and a pure-Python HTMLParser costs more than the XML parsing itself.
"""

from __future__ import annotations

import html
import re

# C0/C1 control characters other than whitespace: PostgreSQL rejects NUL, and none of them is text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# One pass: comments, invisible elements with their content, tags, CDATA marks, declarations.
_MARKUP = re.compile(
    r"<!--.*?(?:-->|$)"
    r"|<(script|style|template|noscript|iframe|object)\b[^>]*>.*?(?:</\1\s*>|$)"
    r"|</?[A-Za-z][^<>]*(?:>|$)|<!\[CDATA\[|\]\]>|<![A-Za-z][^>]*>",
    re.DOTALL | re.IGNORECASE,
)
_ENTITY = re.compile(r"&(?:#\d+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]{1,31});")


def _strip_markup(text: str) -> str:
    return _MARKUP.sub(" ", text) if "<" in text else text


def clean_text(markup: str) -> str:
    """'<p>Talks&nbsp;resume &amp; <b>hold</b></p>' -> 'Talks resume & hold'.

    Double-escaped markup and entities ('&amp;lt;p&amp;gt;', '&amp;#039;'), common in real feeds,
    are decoded a second time.
    """
    if not markup:
        return ""
    text = _strip_markup(markup)
    for _ in range(2):
        if "&" not in text or _ENTITY.search(text) is None:
            break
        text = _strip_markup(html.unescape(text))
    if not text.isprintable():
        text = _CONTROL.sub("", text)
    return " ".join(text.split())


def excerpt(text: str, limit: int) -> str:
    """`text` cut at a word boundary to at most `limit` characters, with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + "…"
