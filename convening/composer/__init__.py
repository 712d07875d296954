"""The briefing composer: from a session's focus to the facts of a briefing, and from the facts to each edition.

Facts first, words after:

- :mod:`~convening.composer.focus`: the session's focus, the observations in focus as narrow rows
  (:func:`submissions.queries.partnership_observations` holds the sharing rules), and where their areas sit.
- :mod:`~convening.composer.facts`: the :class:`~convening.composer.facts.Composer` counts the focus once per
  edition (:data:`webapp.disclosure.EDITIONS`) into tallies with observation ids (never numbers as shown), picks
  each edition's quotes by its audience's rules, and gathers the shared facts;
  :mod:`~convening.composer.indicator_context` adds the official statistics.
- :mod:`~convening.composer.edition`: an :class:`~convening.composer.edition.Edition` releases the cells for one
  audience whenever it is shown (:mod:`~convening.composer.counts`: a released cell and a group's change), and
  :mod:`~convening.composer.sections` build each section's typed facts from it, then write its Markdown and charts
  from those facts (:mod:`~convening.composer.charts`: the Vega-Lite specifications;
  :mod:`~convening.composer.text`: what makes typed text safe in Markdown).

Until a theme model exists observations are grouped by category, and the provenance appendix says so.
"""
