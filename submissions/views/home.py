"""The home page's panels from submissions (registered with webapp.home)."""

from __future__ import annotations

from submissions.queries import moderation_tally, own_observations
from submissions.views.common import submitter_orgs
from webapp import disclosure, policy
from webapp.extensions import db
from webapp.home import HomePanel
from webapp.models import User

# How many of the organisation's (or resident's) latest observations their home page lists.
HOME_RECENT_OBSERVATIONS = 5


def home_panels(user: User) -> list[HomePanel]:
    """The home page's panels from submissions (registered with webapp.home): for people who submit, "Add an
    observation", "Import a spreadsheet" and their latest observations; for moderators, what waits in the queue
    (its count released through webapp.disclosure like every count)."""
    roles = policy.roles_of(user)
    panels = []
    if roles & policy.SUBMITTERS:
        recent = list(db.session.scalars(own_observations(user).limit(HOME_RECENT_OBSERVATIONS)))
        values = {
            "recent": recent,
            "orgs": submitter_orgs(user),
            "can_import": policy.decide("observations.import_upload", user) is policy.Decision.ALLOW,
        }
        panels.append(HomePanel("submissions/_home_contribute.html", values, order=1))
    if policy.decide("observations.moderation", user) is policy.Decision.ALLOW:
        waiting = disclosure.release(moderation_tally(user))
        panels.append(HomePanel("submissions/_home_moderation.html", {"waiting": waiting}, order=12))
    return panels
