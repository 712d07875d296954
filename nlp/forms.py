"""Forms of the theme pages (WTForms, CSRF on)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional


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
