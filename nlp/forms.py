"""Forms of the theme pages (WTForms, CSRF on)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
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


class MergeThemeForm(FlaskForm):
    target = SelectField("Merge into", coerce=int, description="Its observations will count towards that theme.")


class ActionForm(FlaskForm):
    """Hide, show, sign off, start a refresh: a button and the CSRF token."""
