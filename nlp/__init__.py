"""Redaction of personal data, place detection, embeddings and BERTopic themes.

Algorithm modules here take and return plain Python, numpy and pandas values and import neither Flask nor the
database; a thin storage layer in this package saves their results."""
