"""The form of a composite neighbourhood index. The fixed fields are WTForms (CSRF included); each indicator's row
(domain, direction, weight) is read from ``domain-<id>``, ``direction-<id>`` and ``weight-<id>`` and checked by
:func:`indicators.index_operations.build_definition`, whose errors name the row or field."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import RadioField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from indicators import index_method
from indicators.index_operations import Choice


class IndexForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired("Give the index a title."), Length(min=3, max=200)])
    level = SelectField(
        "Areas",
        choices=[SelectChoice("ward", "Wards"), SelectChoice("lsoa", "LSOAs (neighbourhoods)")],
        description="The areas ranked; each indicator is standardised over them.",
    )
    method = RadioField(
        "Standardisation",
        choices=[SelectChoice(k, v) for k, v in index_method.METHOD_LABELS.items()],
        default="zscore",
        validators=[DataRequired("Choose how indicators are standardised.")],
    )
    domain_weights = StringField(
        "Domain weights",
        validators=[Optional(), Length(max=1000)],
        description="Optional, e.g. “Deprivation = 2; Community = 1”. Domains not named weigh 1 (equal weights).",
    )
    community_theme = SelectField("Community domain: theme", coerce=int, validators=[Optional()],
                                  description="Optional: the share of each area's observations in this theme, "
                                  "released through the disclosure layer.")  # fmt: skip
    community_direction = SelectField(
        "Community domain: a higher share is",
        choices=[SelectChoice(k, v) for k, v in index_method.DIRECTION_LABELS.items()],
    )
    community_weight = StringField("Community domain: weight", default="1", validators=[Optional(), Length(max=20)])


def choices_from(form_data, indicator_ids: list[int]) -> list[Choice]:
    """The indicator rows as the form sent them."""
    return [
        Choice(
            i,
            (form_data.get(f"domain-{i}") or "")[:80],
            form_data.get(f"direction-{i}") or index_method.WORSE,
            (form_data.get(f"weight-{i}") or "1")[:20],
        )
        for i in indicator_ids
    ]


def theme_choices(themes) -> list[SelectChoice]:
    return [SelectChoice(0, "No community domain"), *(SelectChoice(t.id, t.label) for t in themes)]
