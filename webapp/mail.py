"""Sending one-time links: by SMTP when configured, otherwise written to the log (development and demo)."""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

from flask import current_app

log = logging.getLogger(__name__)


def send_link(to: str, subject: str, intro: str, path: str, token_id: int) -> None:
    """Send ``intro`` and the absolute link for ``path``. Call only after the transaction has committed."""
    config = current_app.config
    link = config["COMMINTEL_BASE_URL"].rstrip("/") + path
    if not config["COMMINTEL_SMTP_HOST"]:
        # No address in the log: the token id is enough to tell links apart.
        log.warning("No SMTP server configured; one-time link (token %s): %s", token_id, link)
        return
    message = EmailMessage()
    message["From"] = config["COMMINTEL_MAIL_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message.set_content(
        f"{intro}\n\n{link}\n\nThe link works once and expires in {config['COMMINTEL_TOKEN_HOURS']} hours.\n"
    )
    with smtplib.SMTP(config["COMMINTEL_SMTP_HOST"], config["COMMINTEL_SMTP_PORT"], timeout=20) as smtp:
        smtp.ehlo()
        if smtp.has_extn("starttls"):
            smtp.starttls()
            smtp.ehlo()
        if config["COMMINTEL_SMTP_USER"]:
            smtp.login(config["COMMINTEL_SMTP_USER"], config["COMMINTEL_SMTP_PASSWORD"] or "")
        smtp.send_message(message)
    log.info("one-time link sent by SMTP (token %s)", token_id)
