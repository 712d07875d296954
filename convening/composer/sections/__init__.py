"""The sections of a briefing, one module each. A section module has ``write(edition) -> (Markdown, charts)``, which
reads only the :class:`convening.composer.edition.Edition` it is given (its released cells and the shared facts);
a section whose facts are its own also has ``facts(...)``, called by the composer with explicit inputs
(:mod:`convening.composer.facts`). :data:`convening.composer.edition.WRITERS` maps each kind to its writer.
"""
