"""Forms of convening. Errors name the field in users' words; choices that depend on the database are set by the
view (``set_choices``) before validation."""

from __future__ import annotations

from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from wtforms import BooleanField, DateField, SelectChoice, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError
from wtforms.widgets import Select

from convening.models import ActionStatus


class AgreementForm(FlaskForm):
    text = TextAreaField(
        "Agreement text",
        validators=[DataRequired("Write out the agreement."), Length(min=20, max=20000)],
        description="Publishing a new version asks every member organisation to accept it again.",
    )


class AcceptForm(FlaskForm):
    organisation = SelectField("Accept on behalf of", coerce=int, validators=[DataRequired("Choose an organisation.")])


class SessionForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired("Give the session a title."), Length(min=3, max=200)])
    held_on = DateField("Date", validators=[DataRequired("Give the date of the session (dd/mm/yyyy).")])
    place = StringField("Place", validators=[Optional(), Length(max=300)], description="Where people meet.")
    link = StringField("Online meeting link", validators=[Optional(), Length(max=500)], description="https://…")
    focus_areas = SelectMultipleField("Focus areas", coerce=int, validators=[Optional()],
                                      description="Leave empty for the partnership's whole area.")  # fmt: skip
    focus_themes = SelectMultipleField("Focus themes", coerce=int, validators=[Optional()],
                                       description="Themes found by the partnership's theme model.")  # fmt: skip
    focus_categories = SelectMultipleField("Focus categories", coerce=int, validators=[Optional()],
                                           description="Leave empty for every category.")  # fmt: skip
    period_start = DateField("Look at observations from", validators=[Optional()],
                             description="Default: the twelve weeks before the session.")  # fmt: skip
    period_end = DateField("Up to", validators=[Optional()])
    agenda = TextAreaField("Agenda", validators=[Optional(), Length(max=5000)], description="One item a line.")
    attending = SelectMultipleField("Attending organisations", coerce=int, validators=[Optional()])


class SectionForm(FlaskForm):
    title = StringField("Section title", validators=[DataRequired("Give the section a title."), Length(max=200)])
    body = TextAreaField("Text (Markdown)", validators=[Optional(), Length(max=20000)],
                         description="**bold**, *italic*, lists with -, tables with |. No images or HTML.")  # fmt: skip


class NotesForm(FlaskForm):
    notes = TextAreaField("Notes of the meeting", validators=[Optional(), Length(max=20000)],
                          description="Who said what is not needed: what was discussed and agreed.")  # fmt: skip


class PublishForm(FlaskForm):
    """Publishing sends the briefing to the partnership and its funders: a ticked box, checked by the server."""

    confirm = BooleanField("Yes, publish this briefing to the partnership and its funders")


class ApproveAllForm(FlaskForm):
    """Approve every machine-written section the convenor has read, in one step (a ticked box says they have)."""

    confirm = BooleanField("I have read these sections and approve them as written")


class DecisionForm(FlaskForm):
    text = TextAreaField("Decision", validators=[DataRequired("Write the decision out."), Length(min=5, max=5000)])


class ActionForm(FlaskForm):
    description = TextAreaField("Action", validators=[DataRequired("Describe the action."), Length(min=5, max=2000)])
    owner = SelectField("Owner organisation", coerce=int, validators=[Optional()])
    due_on = DateField("Due by", validators=[Optional()])
    theme_ids = SelectMultipleField("Linked themes", coerce=int, validators=[Optional()],
                                    description="Themes it responds to. Hold Ctrl (or ⌘) for several.")  # fmt: skip
    area_ids = SelectMultipleField("Linked areas", coerce=int, validators=[Optional()],
                                   description="Wards it is about. Hold Ctrl (or ⌘) for several.")  # fmt: skip
    observation_ids = StringField("Linked observations", validators=[Optional(), Length(max=500)],
                                  description="Observation numbers, separated by commas, e.g. 12, 40.")  # fmt: skip

    def validate_observation_ids(self, field) -> None:
        parse_ids(field.data)


def parse_ids(text: str | None) -> list[int]:
    """``"12, 40 ,#7"`` as ``[7, 12, 40]``; a ValidationError naming what is wrong otherwise."""
    ids = set()
    for part in (text or "").replace(";", ",").split(","):
        part = part.strip().lstrip("#")
        if not part:
            continue
        if not part.isdigit() or len(part) > 12:
            raise ValidationError(f"“{part[:20]}” is not an observation number: give numbers separated by commas.")
        ids.add(int(part))
    if len(ids) > 50:
        raise ValidationError("Link at most 50 observations to one action.")
    return sorted(ids)


class ActionStatusForm(FlaskForm):
    status = SelectField("Status", choices=[SelectChoice(s.value, s.label) for s in ActionStatus])


class LongSelect(Select):
    """WTForms' <select>, the same HTML, its options written directly: a national funder's library lists thousands
    of wards and themes, and WTForms' own option rendering (html_params per option) took a second for them."""

    @classmethod
    def render_option(cls, choice, **kwargs):
        if kwargs or choice.render_kw or isinstance(choice.value, bool):
            return super().render_option(choice, **kwargs)
        selected = "selected " if choice.selected else ""
        label = escape(choice.label or choice.value)
        return Markup(f'<option {selected}value="{escape(choice.value)}">{label}</option>')  # noqa: S704 - escaped


class LibraryFilterForm(FlaskForm):
    class Meta:
        csrf = False

    partnership = SelectField("Partnership", coerce=int, validators=[Optional()], widget=LongSelect())
    area = SelectField("Area", coerce=int, validators=[Optional()], widget=LongSelect())
    theme = SelectField("Theme", coerce=int, validators=[Optional()], widget=LongSelect())
    date_from = DateField("Meetings from", validators=[Optional()])
    date_to = DateField("Meetings up to", validators=[Optional()])


def choices(pairs) -> list[SelectChoice]:
    """Database-dependent choices as WTForms wants them (value, label)."""
    return [SelectChoice(value, label) for value, label in pairs]
