"""The home page's panels, contributed by the packages above the ground floor.

The home page (``main.home``) leads each person to their next job: a convenor to their partnerships' sessions, the
moderation queue, agreements not yet accepted and actions due; a contributor to "Add an observation" and their
organisation's recent observations; a funder to the briefings library. Those things live in ``submissions`` and
``convening``, which ``webapp`` must not import; so each package registers a *provider* in its ``init_app`` and the
home view asks every provider for the panels it has for the signed-in person (like the packages' signals).

A provider is ``provider(user) -> Iterable[HomePanel]``: it decides from the person's roles and records what to
show, returns nothing for a person it has nothing for, and releases every count it shows through
:mod:`webapp.disclosure` like every other page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app

if TYPE_CHECKING:
    from webapp.models import User

EXTENSION = "commintel.home_panels"


@dataclass(frozen=True)
class HomePanel:
    """One panel of the home page: a template under ``templates/`` (it reads the panel as ``panel``) and its values.

    ``order`` places it: lower first (the person's main job first, then what waits for them, then the rest)."""

    template: str
    values: dict[str, Any] = field(default_factory=dict)
    order: int = 50

    def __getattr__(self, name: str) -> Any:  # panel.sessions in the template reads values["sessions"]
        try:
            return self.__dict__["values"][name]
        except KeyError:
            raise AttributeError(name) from None


Provider = Callable[["User"], Iterable[HomePanel]]


def register_home_panels(app: Flask, provider: Provider) -> None:
    """Add ``provider`` to the home page of ``app`` (call from a package's ``init_app``; twice is harmless)."""
    providers: list[Provider] = app.extensions.setdefault(EXTENSION, [])
    if provider not in providers:
        providers.append(provider)


def panels_for(user: User) -> list[HomePanel]:
    """Every registered provider's panels for ``user``, in their order."""
    panels = [panel for provider in current_app.extensions.get(EXTENSION, []) for panel in provider(user)]
    return sorted(panels, key=lambda p: p.order)
