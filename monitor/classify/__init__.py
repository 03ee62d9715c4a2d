"""The classifier: which country pair a news item concerns, and whether it signals escalation or de-escalation.

    from monitor.classify import classify
    c = classify("Pakistan recalls ambassador from Tehran")
    c.pair, c.direction, c.score   # Pair('IR', 'PK'), Direction.ESCALATION, 4.0

See docs/classifier.md for how it works, its data files, and how to add a phrase or a language.
"""

from monitor.classify import _native

# The mypyc-compiled hot modules when their build is whole and current, else the sources (see _native.py).
compiled = _native.choose()

from monitor.classify.classifier import Analysis, Classification, analyse, classify, warm  # noqa: E402

__all__ = ["Analysis", "Classification", "analyse", "classify", "compiled", "warm"]
