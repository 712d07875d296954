"""Grants beside need: grants published in the 360Giving Data Standard, placed in wards and set beside deprivation
and the community's observations (docs/grants.md).

- :mod:`indicators.grants.models`: imported files, grants and where each grant's money is placed;
- :mod:`indicators.grants.standard`: the vendored 360Giving schemas and validators, the standard's flattened column
  titles, and reading its CSV/XLSX and JSON layouts into grants;
- :mod:`indicators.grants.importer`: validating every grant against the schema and commintel's geography, placing
  it, storing all or nothing;
- :mod:`indicators.grants.need`: funding per head and per observation per ward, and the "high need, low recorded
  funding" rule;
- :mod:`indicators.grants.views`: the page, the import and the export (routes declared in webapp.policy).
"""
