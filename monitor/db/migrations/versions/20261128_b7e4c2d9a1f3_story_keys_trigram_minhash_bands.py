"""story keys: seven one-value MinHash bands over word trigrams instead of an exact key and ten two-value bands

Revision ID: b7e4c2d9a1f3
Revises: 66f16885b6ec
Create Date: 2026-11-28 05:00:00.000000

No schema change: the lookup keys of every story (story_keys) are rebuilt with the new scheme of
monitor.dedup (7 keys a story, "m<band>:<8 hex digits>" over word trigrams, instead of 11, "t:..." and
"b<band>:..." over bigrams), so an upgraded database keeps grouping new copies with the stories it
holds. Each story keeps the created_at its keys had. Stories without keys (headlines too short to
group) stay without.

Downgrade rebuilds the old keys the same way.

The headline normalisation is copied here as monitor.dedup had it at this revision (migrations stay
free of app imports; tests/test_dedup.py pins both the normalisation and the keys, and
tests/test_ingest.py checks that the keys rebuilt here equal monitor.dedup's).
"""
from __future__ import annotations

import hashlib
import re
import struct
import unicodedata
from collections.abc import Callable
from itertools import pairwise
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'b7e4c2d9a1f3'
down_revision: Union[str, Sequence[str], None] = '66f16885b6ec'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

CHUNK = 2000  # stories read, and their keys replaced, per round
_REBUILD_INDEX = "ix_story_keys_story_id_rebuild"

_STORIES = sa.table(
    "stories", sa.column("id", sa.Integer()), sa.column("title", sa.Text()), sa.column("sources", sa.JSON())
)
_KEYS = sa.table(
    "story_keys",
    sa.column("story_id", sa.Integer()),
    sa.column("key", sa.String(64)),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    """Upgrade schema."""
    _rebuild(_new_keys)


def downgrade() -> None:
    """Downgrade schema."""
    _rebuild(_old_keys)


def _rebuild(keys_of: Callable[[frozenset[str], tuple[str, ...]], tuple[str, ...]]) -> None:
    """Replace the keys of every story that has keys, in chunks of stories by ascending id.

    story_keys has no index on story_id (lookups go by key): one is made for the rebuild and dropped
    after it, so finding and deleting a chunk's keys does not scan the whole table each time.
    """
    op.create_index(_REBUILD_INDEX, "story_keys", ["story_id"])
    _replace_keys(keys_of)
    op.drop_index(_REBUILD_INDEX, table_name="story_keys")


def _replace_keys(keys_of: Callable[[frozenset[str], tuple[str, ...]], tuple[str, ...]]) -> None:
    conn = op.get_bind()
    created = (
        sa.select(sa.func.min(_KEYS.c.created_at))
        .where(_KEYS.c.story_id == _STORIES.c.id)
        .scalar_subquery()
    )
    last = 0
    while True:
        rows = conn.execute(
            sa.select(_STORIES.c.id, _STORIES.c.title, _STORIES.c.sources, created)
            .where(_STORIES.c.id > last, sa.exists().where(_KEYS.c.story_id == _STORIES.c.id))
            .order_by(_STORIES.c.id)
            .limit(CHUNK)
        ).all()
        if not rows:
            return
        first, last = rows[0][0], rows[-1][0]
        conn.execute(sa.delete(_KEYS).where(_KEYS.c.story_id.between(first, last)))
        new = []
        for story_id, title, sources, created_at in rows:
            outlets = [str(s) for s in sources or []]
            tokens = _title_tokens(title, outlets[0] if outlets else None)
            if len(tokens) < _MIN_TOKENS:
                continue
            shingles = frozenset(f"{a} {b}" for a, b in pairwise(tokens))
            new += [
                {"story_id": story_id, "key": key, "created_at": created_at}
                for key in keys_of(shingles, tokens)
            ]
        if new:
            conn.execute(sa.insert(_KEYS), new)


def _new_keys(shingles: frozenset[str], tokens: tuple[str, ...]) -> tuple[str, ...]:
    """Seven bands of one 32-bit BLAKE2b MinHash value each, over the word trigrams."""
    unpack = struct.Struct(">7I")
    grams = {f"{a} {b} {c}" for a, b, c in zip(tokens, tokens[1:], tokens[2:])}
    values = [unpack.unpack(hashlib.blake2b(s.encode(), digest_size=28).digest()) for s in grams]
    return tuple(f"m{band}:{value:08x}" for band, value in enumerate(map(min, zip(*values))))


def _old_keys(shingles: frozenset[str], tokens: tuple[str, ...]) -> tuple[str, ...]:
    """The exact key, then ten bands of two 16-bit BLAKE2b MinHash values each."""
    unpack = struct.Struct(">20H")
    m = list(map(min, zip(*(unpack.unpack(hashlib.blake2b(s.encode(), digest_size=40).digest()) for s in shingles))))
    exact = "t:" + hashlib.blake2b(" ".join(tokens).encode(), digest_size=12).hexdigest()
    return (exact, *(f"b{band}:{m[2 * band]:04x}{m[2 * band + 1]:04x}" for band in range(10)))


# --------------------------------------------------------------------------- monitor.dedup's normalisation
_MIN_TOKENS = 3
_STOPWORDS = frozenset([
    "a", "an", "the", "and", "or", "of", "to", "in", "on", "at", "for", "with", "by", "as", "from",
    "is", "are", "was", "were", "be", "been", "its", "it", "this", "that", "into",
])
_PREFIX_TAGS = frozenset([
    "live", "live updates", "breaking", "breaking news", "watch", "video", "update", "updated", "exclusive",
    "just in", "developing",
])
_SUFFIX_SEPARATORS = re.compile(r"\s+(?:-|\||–|—|::)\s+")
_SUFFIX_CONNECTORS = frozenset(["of", "the", "and", "&", "de", "al", "el", "for", "on"])
_DELETE = re.compile(r"['’‘`´.]")
_WORD = re.compile(r"\w+")


def _title_words(title: str, outlet: str | None = None, *, strip_outlet: bool = True) -> tuple[str, ...]:
    text = unicodedata.normalize("NFKC", title).strip()
    if strip_outlet:
        text = _strip_outlet_suffix(text, outlet)
        text = _strip_prefix_tag(text)
    text = _DELETE.sub("", text.casefold())
    return tuple(_WORD.findall(text.replace("_", " ")))


def _title_tokens(title: str, outlet: str | None = None) -> tuple[str, ...]:
    return tuple(w for w in _title_words(title, outlet) if w not in _STOPWORDS)


def _strip_outlet_suffix(text: str, outlet: str | None) -> str:
    outlet_words = _title_words(outlet, strip_outlet=False) if outlet else ()
    for _ in range(2):
        parts = _SUFFIX_SEPARATORS.split(text)
        if len(parts) < 2:
            break
        tail = parts[-1]
        head = text[: len(text) - len(tail)].rstrip(" -|–—:")
        if len(head.split()) < _MIN_TOKENS or not _looks_like_outlet(tail, outlet_words):
            break
        text = head
    return text


def _looks_like_outlet(tail: str, outlet_words: tuple[str, ...]) -> bool:
    words = tail.split()
    if not words or len(words) > 5 or len(tail) > 40:
        return False
    if outlet_words and _title_words(tail, strip_outlet=False) == outlet_words:
        return True
    return all(w[0].isupper() or w[0].isdigit() or w.lower() in _SUFFIX_CONNECTORS for w in words) or (
        len(words) == 1 and "." in tail
    )


def _strip_prefix_tag(text: str) -> str:
    head, sep, rest = text.partition(":")
    if sep and head.strip().casefold() in _PREFIX_TAGS and len(rest.split()) >= _MIN_TOKENS:
        text = rest.strip()
    head, sep, rest = text.rpartition(":")
    if sep and rest.strip().casefold() in _PREFIX_TAGS and len(head.split()) >= _MIN_TOKENS:
        text = head.strip()
    return text


