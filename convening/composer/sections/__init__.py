"""The sections of a briefing, one module each. A section module has ``write(edition) -> (Markdown, charts)``, which
reads only the :class:`convening.composer.edition.Edition` it is given (its released cells and the shared facts), in
two steps: ``read(edition)`` builds the section's typed facts (a frozen dataclass whose counts are
:class:`convening.composer.counts.Count`, released), and ``render(facts)`` writes the Markdown and charts from them
alone (the index section reads its published index version through :mod:`indicators.index_operations` instead);
a section whose facts are its own also has ``facts(...)``, called by the composer with explicit inputs
(:mod:`convening.composer.facts`). :data:`convening.composer.edition.WRITERS` maps each kind to its writer.
"""
