"""NeoSec's QR Code encoder (Services/AuthnService/Web/QRCode.swift), checked module by module
against the Python `qrcode` package, which nobody here wrote.

The Swift test `QRCodeTests.writesInteroperabilityVectors` writes its symbols to the JSON file
named by NEOSEC_QR_VECTORS (scripts/test.sh sets it before `swift test`); without that file the
tests here are skipped. Each vector is remade by `qrcode` with the same bytes, error-correction
level, version and mask, in byte mode (`optimize=0` puts the data in one segment of the most
compact mode that holds all of it, which for bytes with lowercase letters is the byte mode), and
must come out identical. For the symbols where NeoSec chose the version and the mask itself, the
version must be the one `qrcode` fits the data into, and the mask the one of the lowest penalty
by `qrcode`'s own scoring of the finished symbols (lowest mask on a tie).
"""
import json
import os

import pytest
import qrcode
from qrcode import constants, util

LEVELS = {
    "L": constants.ERROR_CORRECT_L,
    "M": constants.ERROR_CORRECT_M,
    "Q": constants.ERROR_CORRECT_Q,
    "H": constants.ERROR_CORRECT_H,
}


@pytest.fixture(scope="module")
def vectors():
    path = os.environ.get("NEOSEC_QR_VECTORS")
    if not path or not os.path.exists(path):
        pytest.skip("no QR vectors: run `swift test` with NEOSEC_QR_VECTORS set (scripts/test.sh does)")
    with open(path) as f:
        return json.load(f)["vectors"]


def reference(data: bytes, level: str, version: int, mask: int) -> list[list[bool]]:
    code = qrcode.QRCode(version=version, error_correction=LEVELS[level], mask_pattern=mask, border=0)
    code.add_data(data, optimize=0)
    assert [segment.mode for segment in code.data_list] == [util.MODE_8BIT_BYTE]
    code.make(fit=False)
    return [list(row) for row in code.get_matrix()]


def matrix(vector) -> list[list[bool]]:
    return [[module == "1" for module in row] for row in vector["rows"]]


def test_vectors_cover_every_version_level_and_mask(vectors):
    assert len(vectors) >= 150
    assert {(v["version"], v["level"]) for v in vectors} >= {(version, level) for version in range(1, 21) for level in LEVELS}
    assert {v["mask"] for v in vectors if not v["chosen"]} == set(range(8))
    assert any(byte >= 0x80 for v in vectors for byte in v["bytes"])  # UTF-8 beyond ASCII


def test_symbols_match_qrcode_module_for_module(vectors):
    mismatches = []
    for vector in vectors:
        data = bytes(vector["bytes"])
        ours = matrix(vector)
        assert len(ours) == 17 + 4 * vector["version"] and all(len(row) == len(ours) for row in ours)
        theirs = reference(data, vector["level"], vector["version"], vector["mask"])
        if ours != theirs:
            wrong = sum(a != b for row_a, row_b in zip(ours, theirs) for a, b in zip(row_a, row_b))
            mismatches.append(f"{vector['name']}: {wrong} modules differ")
    assert not mismatches, mismatches


def test_chosen_version_and_mask_match_qrcode(vectors):
    for vector in (v for v in vectors if v["chosen"]):
        data = bytes(vector["bytes"])
        fitted = qrcode.QRCode(error_correction=LEVELS[vector["level"]], border=0)
        fitted.add_data(data, optimize=0)
        assert fitted.best_fit() == vector["version"], vector["name"]
        penalties = [util.lost_point(reference(data, vector["level"], vector["version"], mask)) for mask in range(8)]
        assert vector["mask"] == penalties.index(min(penalties)), (vector["name"], penalties)
