"""The report as an e-mail (`EmailMessage`, headers checked) and its delivery over SMTP."""

from __future__ import annotations

import ipaddress
import smtplib
import ssl
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from honeyframe_dagster.model.steps import check_email

SECURITY_MODES = ("none", "starttls", "ssl")


class HeaderError(ValueError):
    """A header value that could inject headers; refused before anything is sent."""


class DeliveryError(RuntimeError):
    """The SMTP server could not be reached or refused the message; the message names no secret."""


@dataclass(frozen=True)
class Attachment:
    """A file of the message; with a `cid`, an image the HTML shows inline (`<img src="cid:...">`)."""

    filename: str
    content: bytes
    maintype: str = "application"
    subtype: str = "pdf"
    cid: str | None = None


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: str
    timeout: float
    user: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port} ({self.security})"


def default_security(host: str) -> str:
    """`none` on loopback (the local mail sink), else `starttls`."""
    if host == "localhost":
        return "none"
    try:
        return "none" if ipaddress.ip_address(host).is_loopback else "starttls"
    except ValueError:
        return "starttls"


def check_header(field_name: str, value: str) -> str:
    """Refuse control characters (CR/LF above all): they would end the header and start another."""
    if any(unicodedata.category(char) in ("Cc", "Zl", "Zp") for char in value):
        raise HeaderError(f"{field_name}: {value!r} contains a line break or control character (header injection)")
    return value


def check_address(field_name: str, value: str) -> str:
    try:
        return check_email(check_header(field_name, value))
    except ValueError as exc:
        raise HeaderError(f"{field_name}: {exc}") from None


def compose(
    sender: str,
    recipients: Sequence[str],
    subject: str,
    text: str,
    html: str,
    attachment: Attachment | None = None,
    inline: Sequence[Attachment] = (),
) -> EmailMessage:
    """One message to all recipients: a plain-text part, an HTML alternative and an optional attachment.

    `inline` images go beside the HTML in a multipart/related part, each with the Content-ID its `<img>` names:
    multipart/mixed [multipart/alternative [text/plain, multipart/related [text/html, image/png…]], PDF].
    """
    check_address("HONEYFRAME_SMTP_FROM", sender)
    for index, recipient in enumerate(recipients):
        check_address(f"recipients[{index}]", recipient)
    message = EmailMessage()
    message["Subject"] = check_header("subject", subject)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    html_part = message.get_body(("html",))
    assert html_part is not None
    for image in inline:
        html_part.add_related(
            image.content,
            maintype=image.maintype,
            subtype=image.subtype,
            cid=f"<{check_header('image Content-ID', image.cid or '')}>",
            filename=check_header("image filename", image.filename),
            disposition="inline",
        )
    if attachment is not None:
        message.add_attachment(
            attachment.content,
            maintype=attachment.maintype,
            subtype=attachment.subtype,
            filename=check_header("attachment filename", attachment.filename),
        )
    return message


def describe_failure(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = "; ".join(
            f"{who}: {code} {reply.decode(errors='replace')}" for who, (code, reply) in exc.recipients.items()
        )
        return f"every recipient was refused ({refused})"
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"{type(exc).__name__}: {exc.smtp_code} {reply}"
    return f"{type(exc).__name__}: {exc}"


def deliver(message: EmailMessage, sender: str, recipients: Sequence[str], smtp: SmtpSettings) -> dict[str, str]:
    """Send `message`; returns the recipients the server refused (the others got it). Raises DeliveryError."""
    try:
        if smtp.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                smtp.host, smtp.port, timeout=smtp.timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
        with client:
            if smtp.security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if smtp.user:
                client.login(smtp.user, smtp.password or "")
            refused = client.send_message(message, from_addr=sender, to_addrs=list(recipients))
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(scrub(f"SMTP delivery via {smtp.where} failed: {describe_failure(exc)}", smtp)) from None
    return {who: f"{code} {reply.decode(errors='replace')}" for who, (code, reply) in refused.items()}


def scrub(text: str, smtp: SmtpSettings) -> str:
    """Belt and braces: a server that echoes credentials back must not get them into logs."""
    for secret in (smtp.password, smtp.user):
        if secret:
            text = text.replace(secret, "***")
    return text
