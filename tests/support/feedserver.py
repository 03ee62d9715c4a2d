"""Test fixtures: feedserver."""
