"""The observations' routes, one module per job: :mod:`~submissions.views.observations` (the form, list, detail,
withdraw, erase, categories), :mod:`~submissions.views.moderation`, :mod:`~submissions.views.bulk` (import and
export), :mod:`~submissions.views.tokens` (API tokens), :mod:`~submissions.views.public` (the resident form without
an account), :mod:`~submissions.views.api` (the JSON API); their blueprints and shared helpers are in
:mod:`~submissions.views.common`, the home page's panels in :mod:`~submissions.views.home`.

Who may reach each route is declared in :mod:`webapp.policy`; record-level checks answer 404. Views parse, check,
call an operation and render; the request's commit point (:mod:`webapp.transactions`) stores what they changed."""
