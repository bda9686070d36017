"""SmtpMailer speaks STARTTLS, implicit TLS and AUTH as the settings say (real aiosmtpd)."""

from __future__ import annotations

import email
import email.policy
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.message import EmailMessage, Message
from pathlib import Path

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from pydantic import SecretStr

from activities.delivery import PermanentDeliveryError, SmtpMailer
from config import Settings, SmtpSecurity
from devstack.processes import free_port
from devstack.smtp_sink import EmlWriter
from documents.mail import MailContent, build_message


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, Path]:
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    bundle = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    return server, bundle


def accept_demo(server, session, envelope, mechanism, auth_data) -> AuthResult:  # type: ignore[no-untyped-def]
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        b"faktura",
        b"s3cret",
    )
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535


def message() -> EmailMessage:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "billing@faktura.example", "a@example.org", "Test"
    mail.set_content("hello")
    return mail


def starttls_controller(
    handler: EmlWriter, certificates: tuple[ssl.SSLContext, Path]
) -> Controller:
    """An aiosmtpd server that demands STARTTLS, then AUTH (faktura / s3cret)."""
    return Controller(
        handler, hostname="127.0.0.1", port=free_port(), tls_context=certificates[0],
        require_starttls=True, authenticator=accept_demo, auth_require_tls=True,
    )  # fmt: skip


@pytest.fixture
def starttls_server(certificates, tmp_path: Path) -> Iterator[tuple[int, EmlWriter]]:  # type: ignore[no-untyped-def]
    handler = EmlWriter(tmp_path)
    controller = starttls_controller(handler, certificates)
    controller.start()
    yield controller.port, handler
    controller.stop()


@pytest.fixture
def implicit_tls_server(certificates, tmp_path: Path) -> Iterator[tuple[int, EmlWriter]]:  # type: ignore[no-untyped-def]
    handler = EmlWriter(tmp_path)
    controller = Controller(
        handler, hostname="127.0.0.1", port=free_port(), ssl_context=certificates[0],
        # aiosmtpd only counts STARTTLS as TLS for auth_require_tls; this socket is TLS anyway
        authenticator=accept_demo, auth_require_tls=False,
    )  # fmt: skip
    controller.start()
    yield controller.port, handler
    controller.stop()


def settings_for(port: int, security: SmtpSecurity, bundle: Path, password: str) -> Settings:
    return Settings(
        _env_file=None, smtp_host="127.0.0.1", smtp_port=port, smtp_security=security,
        smtp_user="faktura", smtp_password=SecretStr(password), smtp_ca_file=bundle,
    )  # fmt: skip


async def test_starttls_with_auth(starttls_server, certificates) -> None:  # type: ignore[no-untyped-def]
    port, handler = starttls_server
    mailer = SmtpMailer(settings_for(port, SmtpSecurity.STARTTLS, certificates[1], "s3cret"))
    reply = await mailer.send(message())
    assert reply.startswith("2.0.0 queued") and handler.accepted == 1


async def test_implicit_tls_with_auth(implicit_tls_server, certificates) -> None:  # type: ignore[no-untyped-def]
    port, handler = implicit_tls_server
    mailer = SmtpMailer(settings_for(port, SmtpSecurity.TLS, certificates[1], "s3cret"))
    await mailer.send(message())
    assert handler.accepted == 1


async def test_wrong_password_is_refused(starttls_server, certificates) -> None:  # type: ignore[no-untyped-def]
    port, handler = starttls_server
    mailer = SmtpMailer(settings_for(port, SmtpSecurity.STARTTLS, certificates[1], "wrong"))
    with pytest.raises(Exception, match="(?i)auth"):
        await mailer.send(message())
    assert handler.accepted == 0


async def test_plain_connection_to_a_starttls_only_server_fails(
    starttls_server, certificates
) -> None:  # type: ignore[no-untyped-def]
    port, handler = starttls_server
    settings = Settings(_env_file=None, smtp_host="127.0.0.1", smtp_port=port, smtp_start_tls=None)
    with pytest.raises(Exception):  # noqa: B017 - the server demands STARTTLS first
        await SmtpMailer(settings.model_copy(update={"smtp_security": SmtpSecurity.NONE})).send(
            message()
        )
    assert handler.accepted == 0


class PeerRecorder(EmlWriter):
    """Also records the client's address of every accepted mail: one port = one connection."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.peers: list[object] = []

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
        self.peers.append(session.peer)
        return await super().handle_DATA(server, session, envelope)


async def test_one_connection_carries_many_mails_and_an_idle_one_is_replaced(
    certificates, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    handler = PeerRecorder(tmp_path)
    controller = starttls_controller(handler, certificates)
    controller.start()
    try:
        mailer = SmtpMailer(
            settings_for(controller.port, SmtpSecurity.STARTTLS, certificates[1], "s3cret")
        )
        for _ in range(3):
            await mailer.send(message())
        monkeypatch.setattr(SmtpMailer, "IDLE_SECONDS", 0.0)  # every kept one is now too old
        await mailer.send(message())
    finally:
        controller.stop()
    assert handler.accepted == 4
    assert len(set(handler.peers[:3])) == 1 and handler.peers[3] != handler.peers[0]


def delivered_bytes(directory: Path) -> list[bytes]:
    """The mails the sink wrote, in the order they arrived."""
    return [path.read_bytes() for path in sorted(directory.glob("*.eml"))]


class EnvelopeRecorder(EmlWriter):
    """Also records each accepted mail's envelope and MAIL options."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.envelopes: list[tuple[str, list[str], bool]] = []

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
        utf8 = "SMTPUTF8" in envelope.mail_options
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos), utf8))
        return await super().handle_DATA(server, session, envelope)


@contextmanager
def plain_server(
    directory: Path, *, smtputf8: bool
) -> Iterator[tuple[SmtpMailer, EnvelopeRecorder]]:
    """An SMTP server without TLS or AUTH that records each envelope, and a mailer for it."""
    handler = EnvelopeRecorder(directory)
    controller = Controller(
        handler, hostname="127.0.0.1", port=free_port(), enable_SMTPUTF8=smtputf8
    )
    controller.start()
    try:
        settings = Settings(_env_file=None, smtp_host="127.0.0.1", smtp_port=controller.port,
                            smtp_security=SmtpSecurity.NONE)  # fmt: skip
        yield SmtpMailer(settings), handler
    finally:
        controller.stop()


def hello(recipient: str, n: int = 0) -> Message:
    content = MailContent(recipient=recipient, subject="Ihre Rechnung", text="Hallo",
                          html="<p>Hallo</p>")  # fmt: skip
    return build_message(content, sender="Hoster GmbH <billing@faktura.example>",
                         msgid=f"<{n}@x>", now=datetime(2026, 11, 26, tzinfo=UTC))  # fmt: skip


async def test_the_envelope_comes_from_the_headers_and_a_non_ascii_address_gets_smtputf8(
    tmp_path: Path,
) -> None:
    """The invoice mails go out as bytes we flatten ourselves; an internationalised address
    (which the API accepts) is sent with SMTPUTF8."""
    with plain_server(tmp_path, smtputf8=True) as (mailer, handler):
        for n, recipient in enumerate(("kunde@example.org", "zoë@exämple.org")):
            await mailer.send(hello(recipient, n))
    assert handler.envelopes == [
        ("billing@faktura.example", ["kunde@example.org"], False),
        ("billing@faktura.example", ["zoë@exämple.org"], True),
    ]
    raw = delivered_bytes(tmp_path)
    # UTF-8 headers (RFC 6532): the stdlib parses them from text, not from bytes
    delivered = [email.message_from_string(b.decode(), policy=email.policy.default) for b in raw]
    # RFC 6532: under SMTPUTF8 the address goes in the header as UTF-8; an RFC 2047 encoded
    # word is not allowed in an address, and a mail program would not show the recipient.
    assert [m["To"].addresses[0].addr_spec for m in delivered] == [
        "kunde@example.org",
        "zoë@exämple.org",
    ]
    assert "To: zoë@exämple.org".encode() in raw[1]
    assert [str(m["Subject"]) for m in delivered] == ["Ihre Rechnung"] * 2


async def test_a_non_ascii_address_without_smtputf8_is_a_permanent_failure(
    tmp_path: Path,
) -> None:
    """A server without SMTPUTF8 cannot take the address at all: the mail is refused for good
    (the invoice then goes by post) instead of being retried, and nothing is sent."""
    with (
        plain_server(tmp_path, smtputf8=False) as (mailer, handler),
        pytest.raises(PermanentDeliveryError, match="SMTPUTF8"),
    ):
        await mailer.send(hello("zoë@exämple.org"))
    assert handler.envelopes == []
