"""The GiroCode is segno's EPC QR code, only with a fixed mask instead of the mask search."""

from __future__ import annotations

import dataclasses

from segno import helpers

from documents.mail import GIROCODE_MASK, girocode_fields, girocode_qr
from documents.samples import sample_invoice


def test_with_the_mask_segno_would_choose_the_code_is_identical_to_make_epc_qr() -> None:
    doc = dataclasses.replace(sample_invoice(), gross_cents=12_345, number="RE-2026-0004711")
    reference = helpers.make_epc_qr(**girocode_fields(doc))
    ours = girocode_qr(doc, mask=reference.mask)
    assert ours.matrix == reference.matrix
    assert (ours.version, ours.error) == (reference.version, "M")


def test_the_fixed_mask_keeps_version_and_error_level_within_the_epc_rules() -> None:
    qr = girocode_qr(sample_invoice())
    assert qr.mask == GIROCODE_MASK and qr.error == "M" and qr.version <= 13
