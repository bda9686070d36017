"""`faktura mails` lists what the local SMTP sink received."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli import main


def test_lists_recipient_and_subject(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "1-000001-abc.eml").write_bytes(
        b"To: max@example.org\r\nSubject: =?utf-8?q?Ihre_Rechnung_RE-2026-0000001_=C3=BCber_9,99_=E2=82=AC?=\r\n\r\nhi\r\n"
    )
    main(["mails", "--dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert "max@example.org" in out
    assert "Ihre Rechnung RE-2026-0000001 über 9,99 €" in out
