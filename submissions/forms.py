"""WTForms for observations. They collect values and draw fields; the rules live in :mod:`submissions.validation`.

The views pass ``form.values()`` to the operation and put any ValidationFailed messages next to the named fields,
so the web form, the importer and the API give the same messages for the same mistakes.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.validators import Optional

from submissions.models import (
    GROUPS,
    TEXT_MAX,
    Confidence,
    ObservationKind,
    SharingLevel,
    Source,
    Trend,
)
from submissions.validation import FIELDS_BY_NAME, ValidationFailed


def _choices(enum_cls) -> list[SelectChoice]:
    return [SelectChoice(m.value, m.label) for m in enum_cls]


def choices(pairs) -> list[SelectChoice]:
    """SelectChoice objects from (value, label) pairs."""
    return [SelectChoice(value, label) for value, label in pairs]


def _d(name: str) -> str:
    return FIELDS_BY_NAME[name].description


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class ObservationForm(FlaskForm):
    organisation = SelectField(
        "Organisation", choices=[], validate_choice=False, description="Which of your organisations this comes from."
    )
    partnership = SelectField("Partnership", choices=[], validate_choice=False, description=_d("partnership"))
    kind = RadioField(
        "Need or asset",
        choices=_choices(ObservationKind),
        validate_choice=False,
        description=_d("kind"),
        render_kw={"class": "choice-list"},
    )
    category = SelectField(
        "Category", choices=[], validate_choice=False, description="Choose the closest. Each is explained below."
    )
    text = TextAreaField(
        "What you have seen", description=_d("text"), render_kw={"rows": 7, "maxlength": TEXT_MAX + 500}
    )
    area = StringField("Area", description=_d("area"), render_kw={"list": "area-options", "autocomplete": "off"})
    period = StringField("When", description=_d("period"), render_kw={"placeholder": "2025-03 or 2025-03-14"})
    people_affected = StringField(
        "People affected (optional)", description=_d("people_affected"), render_kw={"inputmode": "numeric"}
    )
    groups = MultiCheckboxField(
        "Groups affected (optional)",
        choices=choices(GROUPS.items()),
        validate_choice=False,
        render_kw={"class": "choice-list"},
    )
    trend = SelectField("Trend", choices=_choices(Trend), default=Trend.UNKNOWN.value, validate_choice=False)
    source = SelectField(
        "How you know", choices=_choices(Source), default=Source.FRONTLINE_CONTACT.value, validate_choice=False
    )
    confidence = SelectField(
        "Confidence", choices=_choices(Confidence), default=Confidence.MEDIUM.value, validate_choice=False
    )
    sharing_level = SelectField(
        "Who may see it",
        choices=_choices(SharingLevel),
        default=SharingLevel.PARTNERSHIP.value,
        validate_choice=False,
        description=_d("sharing_level"),
    )
    consent_to_quote = BooleanField(
        "Quote it in the partnership's briefings",
        description="Tick only if the people concerned agreed to be quoted anonymously. The partnership's members and "
        "convenors may then read it as a quote, with personal details removed. Quotes never carry names.",
    )
    consent_to_quote_funders = BooleanField(
        "Also quote it in the funders' edition",
        description="Tick only if they also agreed that the partnership's funders may read the quote. Needs the box "
        "above, and 'Who may see it' set to include funders.",
    )
    external_ref = StringField("Your reference (optional)", validators=[Optional()], description=_d("external_ref"))

    RULE_FIELDS = ("kind", "category", "text", "area", "period", "people_affected", "groups", "trend", "source",
                   "confidence", "sharing_level", "consent_to_quote", "consent_to_quote_funders", "external_ref",
                   "partnership")  # fmt: skip

    def values(self) -> dict:
        """The raw values for the shared rules."""
        return {name: self[name].data for name in self.RULE_FIELDS if name in self}

    def show(self, failed: ValidationFailed) -> None:
        """Put each rule's message next to its field (or on the text field if the field is not on this form)."""
        for name, message in failed.errors.items():
            target = self._fields.get(name, self.text)
            target.errors = [*target.errors, message] if isinstance(target.errors, list) else [message]


# Residents write about themselves: the consent is theirs, not "the people concerned"'s.
RESIDENT_CONSENT_LABEL = "You may quote what I wrote in the partnership's briefings"
RESIDENT_CONSENT_DESCRIPTION = (
    "Tick if you agree: the partnership's members and convenors may then read your words as a quote, after a "
    "moderator has removed names and contact details. Your name is never shown with it. Leave it unticked and your "
    "words are only counted and summarised, never quoted."
)


def use_resident_wording(form: ObservationForm) -> None:
    """Word the consent for a resident writing about themselves (the form's fields are per instance)."""
    form.consent_to_quote.label.text = RESIDENT_CONSENT_LABEL
    form.consent_to_quote.description = RESIDENT_CONSENT_DESCRIPTION


class PublicObservationForm(ObservationForm):
    """The public resident form: fewer fields, and a honeypot that people never see or fill in."""

    website = StringField("Leave this empty", render_kw={"tabindex": "-1", "autocomplete": "off"})
    # Residents' observations are always shared with the partnership, after moderation and redaction.
    organisation = None
    sharing_level = None
    consent_to_quote_funders = None
    external_ref = None
    source = None
    confidence = None
    partnership = None


class RejectForm(FlaskForm):
    # The moderation page labels the reason per observation: shown to a signed-in submitter, or kept for the record
    # when the sender is anonymous (submissions.operations.reason_audience).
    reason = TextAreaField("Reason for rejecting", render_kw={"rows": 3})


# The area choice "the partnership's whole area" (no ward or LSOA).
WHOLE_AREA = 0


class ModerateAreaForm(FlaskForm):
    """A moderator confirms the suggested place or sets the area of a resident's observation."""

    area = SelectField("Set the area", coerce=int, validate_choice=False)


class ModerateTextForm(FlaskForm):
    """A moderator edits personal data out of a resident's text before approving it."""

    text = TextAreaField(
        "Edit out personal data",
        description="Remove names, addresses, phone numbers and anything else that identifies someone. The audit "
        "log records that you changed the text, never the text.",
        render_kw={"rows": 5},
    )


class UploadForm(FlaskForm):
    organisation = SelectField("Organisation", choices=[], validate_choice=False)
    file = FileField("CSV or XLSX file", description="Up to 10 MB. The first row must name the columns.")


class TokenForm(FlaskForm):
    organisation = SelectField("Organisation", choices=[], validate_choice=False)
    name = StringField("Name of the token", description="e.g. the name of the system that will use it.")
    days = SelectField(
        "Works for",
        choices=[],
        validate_choice=False,
        description="After this it stops working. Rotate it before then to keep the system running.",
    )


class CategoryForm(FlaskForm):
    name = StringField("Name")
    description = TextAreaField("Description", description="Say what belongs in this category.")


class EraseForm(FlaskForm):
    confirm = BooleanField("I understand this cannot be undone")


class ConfirmImportForm(FlaskForm):
    """Confirms a step of an import (the column matches, then the import of the rows the preview counted)."""
