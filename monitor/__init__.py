"""Crisis monitor: news feeds in, escalation/de-escalation alerts out."""

__version__ = "0.1.0"
