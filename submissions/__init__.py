"""Observations and their intake: web form, bulk file import, public resident form and API; moderation, sharing,
consent and erasure. Builds on :mod:`webapp` (people, organisations, partnerships, areas)."""
