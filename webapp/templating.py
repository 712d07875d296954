"""Template helpers: navigation by role, and the values every page needs."""

from __future__ import annotations

from flask import Flask
from flask_login import current_user

from webapp import policy

# (endpoint, label) in the order shown; each link appears only for roles its policy rule allows.
NAVIGATION = (
    ("main.home", "Home"),
    ("areas.index", "Areas"),
    ("convening.sessions", "Sessions"),
    ("partnerships.index", "Partnerships"),
    ("observations.index", "Observations"),
    ("observations.moderation", "Moderation"),
    ("themes.index", "Themes"),
    ("orgs.index", "Organisations"),
    ("admin.users", "People"),
    ("convening.library", "Briefings"),
    ("grants.index", "Grants"),
    ("convening.informed", "Used in briefings"),
)


def register_template_helpers(app: Flask) -> None:
    @app.context_processor
    def inject():
        nav = [(ep, label) for ep, label in NAVIGATION if policy.decide(ep, current_user) is policy.Decision.ALLOW]
        return {"navigation": nav}
