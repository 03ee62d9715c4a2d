"""Test fixtures: receivers."""
