"""The org's mail connector as a Dagster resource, filled from HONEYFRAME_SMTP_* by `mail_resource`."""

from __future__ import annotations

from collections.abc import Sequence
from email.message import EmailMessage

from dagster import ConfigurableResource

from honeyframe_dagster.reports.mail import SECURITY_MODES, SmtpSettings, default_security, deliver
from honeyframe_dagster.settings import Settings


class MailResource(ConfigurableResource):
    """Where and as whom reports are sent (HONEYFRAME_SMTP_*): built from the settings where it is used, never part
    of run config, so the password reaches no snapshot, run or page."""

    host: str
    port: int
    sender: str
    timeout_seconds: float
    security: str | None = None  # None: from the host (default_security)
    user: str | None = None
    password: str | None = None

    def smtp_settings(self) -> SmtpSettings:
        security = (self.security or default_security(self.host)).lower()
        if security not in SECURITY_MODES:
            raise ValueError(f"HONEYFRAME_SMTP_SECURITY={self.security!r}: expected one of {', '.join(SECURITY_MODES)}")
        return SmtpSettings(
            host=self.host,
            port=self.port,
            security=security,
            timeout=self.timeout_seconds,
            user=self.user,
            password=self.password,
        )

    def send(self, message: EmailMessage, recipients: Sequence[str]) -> dict[str, str]:
        """Deliver to `recipients`; returns those the server refused. Raises DeliveryError."""
        return deliver(message, self.sender, recipients, self.smtp_settings())


def mail_resource(settings: Settings) -> MailResource:
    """The org's mail connector (HONEYFRAME_SMTP_*)."""
    return MailResource(
        host=settings.smtp_host,
        port=settings.smtp_port,
        sender=settings.smtp_from,
        timeout_seconds=settings.smtp_timeout_seconds,
        security=settings.smtp_security,
        user=settings.smtp_user,
        password=settings.smtp_password,
    )
