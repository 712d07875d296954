"""WTForms for sign-in, invitations, password resets and organisations. Errors name the field in users' words."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, EqualTo, Length

from webapp.models import OrgKind, OrgRole, PlatformRole
from webapp.operations import MIN_PASSWORD_LENGTH


class LoginForm(FlaskForm):
    email = EmailField("Email address", validators=[DataRequired("Enter your email address.")])
    password = PasswordField("Password", validators=[DataRequired("Enter your password.")])


class ForgotPasswordForm(FlaskForm):
    email = EmailField("Email address", validators=[DataRequired("Enter your email address.")])


class NewPasswordForm(FlaskForm):
    password = PasswordField(
        "New password",
        validators=[
            DataRequired("Choose a password."),
            Length(min=MIN_PASSWORD_LENGTH, message=f"Use at least {MIN_PASSWORD_LENGTH} characters."),
        ],
        description=f"At least {MIN_PASSWORD_LENGTH} characters. A few words strung together work well.",
    )
    confirm = PasswordField(
        "Repeat the new password",
        validators=[DataRequired("Repeat the password."), EqualTo("password", "The two passwords differ.")],
    )


class ChangePasswordForm(NewPasswordForm):
    current_password = PasswordField("Current password", validators=[DataRequired("Enter your current password.")])


class ConfirmPasswordForm(FlaskForm):
    password = PasswordField("Password", validators=[DataRequired("Enter your password.")])


class CodeForm(FlaskForm):
    """The second step of signing in: a code from the authenticator app, or a recovery code."""

    code = StringField(
        "Code",
        validators=[DataRequired("Enter the code."), Length(max=32)],
        description="The 6-digit code your authenticator app shows now, or one of your recovery codes.",
    )
    remember = BooleanField(
        "Remember this device for 30 days",
        description="Only on a device that is yours alone. You can forget it from “Your sessions”.",
    )


class SetupCodeForm(FlaskForm):
    code = StringField(
        "Code from the app",
        validators=[DataRequired("Enter the 6-digit code the app shows."), Length(max=32)],
        description="After adding commintel to the app, type the 6-digit code it shows.",
    )
    remember = BooleanField(
        "Remember this device for 30 days",
        description="Only on a device that is yours alone.",
    )


class ButtonForm(FlaskForm):
    """A form that is only a button: CSRF protection and nothing else."""


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False

    action = SelectField("Event", choices=[], validate_choice=False)
    actor = StringField("Who (email or user id)", validators=[Length(max=254)])
    start = StringField("From (YYYY-MM-DD)", validators=[Length(max=10)])
    end = StringField("To (YYYY-MM-DD)", validators=[Length(max=10)])


class AcceptInvitationForm(NewPasswordForm):
    display_name = StringField(
        "Your name",
        validators=[DataRequired("Tell us the name to show for you."), Length(max=120)],
        description="Shown to people in your organisation and partnership.",
    )


class InviteForm(FlaskForm):
    email = EmailField("Their email address", validators=[DataRequired("Enter their email address.")])
    role = SelectField(
        "Role in the organisation",
        choices=[
            SelectChoice(OrgRole.MEMBER.value, "Member"),
            SelectChoice(OrgRole.ADMIN.value, "Organisation admin"),
        ],
        default=OrgRole.MEMBER.value,
    )


class PlatformInviteForm(FlaskForm):
    email = EmailField("Their email address", validators=[DataRequired("Enter their email address.")])
    platform_role = SelectField(
        "Role",
        choices=[
            SelectChoice(PlatformRole.CONVENOR.value, "Convenor"),
            SelectChoice(PlatformRole.FUNDER.value, "Funder"),
            SelectChoice(PlatformRole.RESIDENT.value, "Resident"),
            SelectChoice(PlatformRole.ADMIN.value, "Administrator"),
        ],
    )


class OrganisationForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired("Give the organisation a name."), Length(max=200)])
    kind = SelectField("Kind of organisation", choices=[SelectChoice(k.value, k.label) for k in OrgKind])


class PartnershipForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired("Give the partnership a name."), Length(max=200)])
    areas = TextAreaField(
        "Areas it covers",
        description="Local authorities or wards, by name or ONS code, one per line (e.g. Bristol, City of or "
        "E06000023). Leave empty to add them later.",
    )


class AddToPartnershipForm(FlaskForm):
    """One of: an area (name or code), a member organisation, a funder organisation, a convenor."""

    what = HiddenField()
    item = StringField("Name or code")


class PublicFormSwitch(FlaskForm):
    """The one button that switches a partnership's public resident form on or off (CSRF-protected)."""

    enable = HiddenField()
