"""Forms of the theme pages (WTForms, CSRF on)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget


class RenameThemeForm(FlaskForm):
    label = StringField(
        "Name",
        validators=[Optional(), Length(max=200, message="The name must be at most 200 characters.")],
        description="Leave empty to go back to the automatic name.",
    )
    description = TextAreaField(
        "Description", validators=[Optional(), Length(max=2000, message="At most 2,000 characters.")]
    )


# The merge target's empty choice: nothing is preselected, so a merge happens only into a theme the person chose.
NO_TARGET = 0


class MergeThemeForm(FlaskForm):
    target = SelectField("Merge into", coerce=int, description="Its observations will count towards that theme.")
    confirm = BooleanField("Yes, merge this theme into the one I chose (its observations will count there from now on)")

    def set_targets(self, themes) -> None:
        """The partnership's other themes, after an empty first choice that must be changed."""
        self.target.choices = [(NO_TARGET, "Choose a theme…"), *((t.id, t.label) for t in themes)]


class HideThemeForm(FlaskForm):
    """Hiding takes a theme out of every list and count, so the person ticks a box to say they mean it (checked by
    the server, so it works without JavaScript). Showing a hidden theme again needs no confirmation."""

    confirm = BooleanField("Yes, hide this theme from lists and counts")


class ActionForm(FlaskForm):
    """Hide, show, sign off, start a refresh: a button and the CSRF token."""


# The move target for "no theme" (a person says the observation belongs to none of the themes).
NO_THEME = -1


class CorrectThemeForm(FlaskForm):
    """People's corrections on a theme's page: tick observations, then move them to another theme (or "no theme"),
    or split them off into a new theme. One list of boxes, two buttons (each posts to its own route, no JavaScript
    needed); both are kept when the themes are fitted again."""

    members = SelectMultipleField("Observations", coerce=int, widget=ListWidget(prefix_label=False),
                                  option_widget=CheckboxInput(), validate_choice=False)  # fmt: skip
    target = SelectField("Move the ticked observations to", coerce=int, validate_choice=False,
                         description="They stay there when the themes are fitted again.")  # fmt: skip
    label = StringField(
        "Name of the new theme",
        validators=[Optional(), Length(max=200, message="The name must be at most 200 characters.")],
    )
    confirm = BooleanField("Yes, split the ticked observations off into a new theme with this name")

    def set_choices(self, quotes, themes) -> None:
        self.members.choices = [(q.observation_id, q.text[:300]) for q in quotes]
        choices = [(NO_TARGET, "Choose a theme…"), (NO_THEME, "No theme")]
        self.target.choices = [*choices, *((t.id, t.label) for t in themes)]
