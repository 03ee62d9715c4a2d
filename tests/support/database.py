"""Test fixtures: database."""
