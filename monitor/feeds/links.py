"""Canonical article links: one story, one URL, whichever tracking decorations a feed adds."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

# Query parameters that only say who sent the reader (click ids, campaign tags, feed markers).
TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "igshid",
        "mc_cid", "mc_eid", "_ga", "_gl", "ocid", "cmpid", "cmp", "icid", "ncid", "sr_share",
        "at_medium", "at_campaign", "at_custom1", "at_custom2", "at_custom3", "at_custom4",
        "traffic_source", "maca", "smid", "smtyp",
        "ito", "ns_mchannel", "ns_source", "ns_campaign", "ns_linkname", "ns_fee",
    }
)  # fmt: skip
TRACKING_PREFIXES = ("utm_", "at_", "pk_", "mtm_", "hsa_")
DEFAULT_PORTS = {"http": 80, "https": 443}
# Lower-case scheme and host, no port, userinfo, query or fragment: nothing to change.
_ALREADY_CANONICAL = re.compile(r"https?://[a-z0-9.-]+/[^?#\s]*\Z")
# The same with a query and/or a fragment (a feed's usual "?at_medium=RSS" decorations).
_PLAIN_WITH_QUERY = re.compile(r"(https?://[a-z0-9.-]+)(/[^?#\s]*)?(?:\?([^#\s]*))?(?:#\S*)?\Z")


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def canonical_link(url: str) -> str:
    """Scheme and host lower-cased, default port, fragment and tracking parameters dropped.

    'HTTPS://WWW.BBC.com:443/news/a1?at_medium=RSS&at_campaign=rss#top' -> 'https://www.bbc.com/news/a1'.
    Other parameters keep their order. A non-HTTP or unparsable link is returned stripped.
    """
    text = url.strip()
    if _ALREADY_CANONICAL.match(text):
        return text
    plain = _PLAIN_WITH_QUERY.match(text)
    if plain is not None:
        base, path, query = plain.groups()
        kept = _query_without_tracking(query) if query else ""
        if kept is not None:
            return f"{base}{path or '/'}?{kept}" if kept else f"{base}{path or '/'}"
    return _canonical(text)


def _query_without_tracking(query: str) -> str | None:
    """`query` as it is when it has no tracking parameter, "" when it has only those, else None.

    None (a mix) leaves the query to `_canonical`, which re-encodes what it keeps; the two cases
    here need no re-encoding, so the result is the same as `_canonical`'s, more cheaply.
    """
    tracking = other = False
    for part in query.split("&"):
        if not part:
            continue  # parse_qsl skips empty fields too
        name = part.partition("=")[0]
        if "%" in name or "+" in name:
            name = unquote(name.replace("+", " "))
        if _is_tracking(name):
            tracking = True
        else:
            other = True
        if tracking and other:
            return None
    return "" if tracking else query


def _canonical(text: str) -> str:
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return text
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return text
    host = parts.hostname.lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    if parts.username is not None:
        netloc = f"{parts.netloc.rpartition('@')[0]}@{netloc}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        kept = [(k, v) for k, v in pairs if not _is_tracking(k)]
        if len(kept) != len(pairs):
            query = urlencode(kept, doseq=False)
    return urlunsplit((scheme, netloc, parts.path or "/", query, ""))
