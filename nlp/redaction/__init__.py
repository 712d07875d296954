"""Redaction of personal data: typed placeholders in place of names, phone numbers, emails, postcodes, addresses,
identity numbers, dates of birth, URLs and handles; place names found on the way (an area suggested where the
submitter gave none); quasi-identifiers for the quotes a briefing shows.

Rules (pure: no Flask, no database): :mod:`~nlp.redaction.spans` (types, spans, merging),
:mod:`~nlp.redaction.words` (word lists), :mod:`~nlp.redaction.structured` (UK identifier formats),
:mod:`~nlp.redaction.redactor` (names, and the :class:`~nlp.redaction.redactor.Redactor` that runs everything),
:mod:`~nlp.redaction.places` (the gazetteer), :mod:`~nlp.redaction.quasi_identifiers` (ages, conditions, streets:
details that single a person out without naming them) and :mod:`~nlp.redaction.evaluation` (scoring against the
labelled set). Places, quasi-identifiers and evaluation live here, not in :mod:`nlp`, because they are detection of
personal data: convening's quote check reads them as redaction's, and the themes never do.

Storage and entry points: :mod:`~nlp.redaction.operations` (build the app's redactor, store redactions; flushes,
never commits), :mod:`~nlp.redaction.tasks` (Celery task, signal receiver), :mod:`~nlp.redaction.cli`
(``commintel nlp ...``) and :mod:`~nlp.redaction.demo`. Redaction has no tables of its own: it writes the
observations' redacted text (:class:`submissions.models.Observation`).
"""
