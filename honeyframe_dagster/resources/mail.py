"""The org's mail connector as a Dagster resource, configured from HONEYFRAME_SMTP_* at run time."""

from __future__ import annotations

from collections.abc import Sequence
from email.message import EmailMessage

from dagster import ConfigurableResource

from honeyframe_dagster.reports.mail import SECURITY_MODES, SmtpSettings, default_security, deliver
from honeyframe_dagster.settings import get_settings


class MailResource(ConfigurableResource):
    """Reads the environment when used: no host, user or password in run config, so none in the UI."""

    def smtp_settings(self) -> SmtpSettings:
        settings = get_settings()
        security = (settings.smtp_security or default_security(settings.smtp_host)).lower()
        if security not in SECURITY_MODES:
            raise ValueError(
                f"HONEYFRAME_SMTP_SECURITY={settings.smtp_security!r}: expected one of {', '.join(SECURITY_MODES)}"
            )
        return SmtpSettings(
            host=settings.smtp_host,
            port=settings.smtp_port,
            security=security,
            timeout=settings.smtp_timeout_seconds,
            user=settings.smtp_user,
            password=settings.smtp_password,
        )

    @property
    def sender(self) -> str:
        return get_settings().smtp_from

    def send(self, message: EmailMessage, recipients: Sequence[str]) -> dict[str, str]:
        """Deliver to `recipients`; returns those the server refused. Raises DeliveryError."""
        return deliver(message, self.sender, recipients, self.smtp_settings())
