"""The pure binding-code and personal-data rules (no database, no clock)."""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta, timezone

import pytest

from handlers.residents.rules import (
    CODE_ALPHABET,
    CODE_LENGTH,
    CodeStatus,
    code_status,
    device_of,
    mask,
    masked_address,
    new_code,
    normalize_code,
    pseudonym,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

# --- the alphabet and new codes ---------------------------------------------------------------


def test_alphabet_has_no_lookalikes_and_no_repeats():
    assert set(CODE_ALPHABET).isdisjoint("01OIL")
    assert len(set(CODE_ALPHABET)) == len(CODE_ALPHABET)
    assert set(CODE_ALPHABET) <= set(string.ascii_uppercase + string.digits)
    # Everything else that is a digit or an upper-case letter is allowed.
    assert set(CODE_ALPHABET) == set(string.ascii_uppercase + string.digits) - set("01OIL")


def test_new_code_has_the_default_length_and_only_alphabet_characters():
    for _ in range(200):
        code = new_code()
        assert len(code) == CODE_LENGTH == 8
        assert set(code) <= set(CODE_ALPHABET)


@pytest.mark.parametrize("length", [1, 6, 12])
def test_new_code_honours_a_custom_length(length):
    code = new_code(length)
    assert len(code) == length
    assert set(code) <= set(CODE_ALPHABET)


def test_new_codes_are_random_and_use_the_whole_alphabet():
    codes = [new_code() for _ in range(500)]
    assert len(set(codes)) == len(codes)
    assert set("".join(codes)) == set(CODE_ALPHABET)


def test_a_new_code_survives_normalisation_unchanged():
    for _ in range(50):
        code = new_code()
        assert normalize_code(code) == code
        assert normalize_code(code.lower()) == code


# --- normalize_code ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed,expected",
    [
        pytest.param("K7MX3Q9P", "K7MX3Q9P", id="exact"),
        pytest.param("k7mx3q9p", "K7MX3Q9P", id="lower-case"),
        pytest.param("K7mX3q9P", "K7MX3Q9P", id="mixed-case"),
        pytest.param("Ｋ７ＭＸ３Ｑ９Ｐ", "K7MX3Q9P", id="full-width"),
        pytest.param("ｋ７ｍｘ３ｑ９ｐ", "K7MX3Q9P", id="full-width-lower"),
        pytest.param("K7MX-3Q9P", "K7MX3Q9P", id="dash"),
        pytest.param("K7MX－3Q9P", "K7MX3Q9P", id="full-width-dash"),
        pytest.param("K7MX 3Q9P", "K7MX3Q9P", id="space"),
        pytest.param("K7MX\u30003Q9P", "K7MX3Q9P", id="ideographic-space"),
        pytest.param("  K7MX3Q9P  ", "K7MX3Q9P", id="padded"),
        pytest.param("K7_MX\t3Q-9 P", "K7MX3Q9P", id="underscore-tab-mixture"),
        pytest.param("k7-mx-3q-9p", "K7MX3Q9P", id="lower-with-dashes"),
        pytest.param("K7MX3Q9P\n", "K7MX3Q9P", id="trailing-newline"),
        pytest.param("K7MX3Q9P。", "K7MX3Q9P", id="voice-full-stop"),
    ],
)
def test_normalize_code_forgives_how_residents_type(typed, expected):
    assert normalize_code(typed) == expected


@pytest.mark.parametrize(
    "typed",
    [
        pytest.param("", id="empty"),
        pytest.param("   ", id="blank"),
        pytest.param("K7MX3Q9", id="seven-characters"),
        pytest.param("K7MX3Q9PP", id="nine-characters"),
        pytest.param("K7MX3Q90", id="zero"),
        pytest.param("K7MX3Q9O", id="letter-O"),
        pytest.param("K7MX3Q91", id="one"),
        pytest.param("K7MX3Q9I", id="letter-I"),
        pytest.param("K7MX3Q9L", id="letter-L"),
        pytest.param("k7mx3q9l", id="lower-l-becomes-L"),
        pytest.param("K7MX3Q9!", id="punctuation"),
        pytest.param("K7MX.3Q9P", id="dot-is-not-forgiven"),
        pytest.param("绑定K7MX3Q", id="chinese"),
    ],
)
def test_normalize_code_rejects_what_cannot_be_a_code(typed):
    assert normalize_code(typed) is None


# --- code_status ------------------------------------------------------------------------------


def test_unknown_code_is_unknown_whatever_else_is_given():
    assert code_status(False, None, None, NOW) is CodeStatus.UNKNOWN
    assert code_status(False, NOW, NOW - timedelta(days=1), NOW) is CodeStatus.UNKNOWN, (
        "not found wins over used and expired"
    )


def test_used_code_is_used_even_when_also_expired():
    assert code_status(True, NOW - timedelta(hours=1), NOW + timedelta(days=1), NOW) == "used"
    assert code_status(True, NOW - timedelta(days=9), NOW - timedelta(days=1), NOW) == "used"


def test_fresh_code_is_ok():
    assert code_status(True, None, NOW + timedelta(days=30), NOW) is CodeStatus.OK


def test_code_without_expiry_is_ok():
    assert code_status(True, None, None, NOW) is CodeStatus.OK


def test_past_expiry_is_expired():
    assert code_status(True, None, NOW - timedelta(days=1), NOW) is CodeStatus.EXPIRED


@pytest.mark.parametrize(
    "offset,expected",
    [
        pytest.param(timedelta(microseconds=-1), CodeStatus.EXPIRED, id="just-before-now"),
        pytest.param(timedelta(0), CodeStatus.EXPIRED, id="exactly-now"),
        pytest.param(timedelta(microseconds=1), CodeStatus.OK, id="just-after-now"),
    ],
)
def test_expiry_boundary_is_exclusive(offset, expected):
    """A code expiring at 12:00:00 no longer works at 12:00:00."""
    assert code_status(True, None, NOW + offset, NOW) is expected


def test_expiry_compares_instants_across_time_zones():
    beijing = datetime(2026, 3, 1, 20, 0, 1, tzinfo=timezone(timedelta(hours=8)))  # 12:00:01Z
    assert code_status(True, None, beijing, NOW) is CodeStatus.OK
    assert code_status(True, None, NOW, beijing) is CodeStatus.EXPIRED


def test_code_status_values_are_stable_strings():
    assert {s.value for s in CodeStatus} == {"ok", "unknown", "used", "expired", "malformed"}


# --- pseudonym --------------------------------------------------------------------------------


def test_pseudonym_is_stable():
    assert pseudonym("o_abcdef123456") == pseudonym("o_abcdef123456")


def test_pseudonym_differs_between_residents():
    names = {pseudonym(f"o_resident_{i}") for i in range(1000)}
    assert len(names) == 1000


@pytest.mark.parametrize("openid", ["o6_bmjrPTlm6_2sgVt7hMZOPfL2M", "abc", "o_", "0123456789ab"])
def test_pseudonym_does_not_contain_the_openid(openid):
    handle = pseudonym(openid)
    assert openid not in handle
    assert handle.startswith("u_")
    assert len(handle) == 14
    assert all(ch in string.hexdigits.lower() for ch in handle[2:])


def test_pseudonym_is_not_the_openid_with_a_prefix():
    assert pseudonym("o_x") != "u_o_x"
    assert pseudonym("") != pseudonym(" ")


# --- mask -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value,keep,expected",
    [
        ("o_resident_1", 4, "********nt_1"),
        ("13800138000", 4, "*******8000"),
        ("abcde", 4, "*bcde"),
        ("abcd", 4, "****"),
        ("abc", 4, "***"),
        ("", 4, ""),
        ("abcdef", 2, "****ef"),
    ],
)
def test_mask(value, keep, expected):
    assert mask(value, keep) == expected


def test_mask_keeping_nothing_hides_everything():
    assert mask("o_secret_openid", 0) == "*" * len("o_secret_openid")


def test_mask_default_keeps_four_and_hides_the_rest():
    openid = "o6_bmjrPTlm6_2sgVt7hMZOPfL2M"
    masked = mask(openid)
    assert len(masked) == len(openid)
    assert masked.endswith(openid[-4:])
    assert set(masked[:-4]) == {"*"}
    assert openid not in masked


# --- where a QR sign-in came from -------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "shown"),
    [
        ("203.0.113.77", "203.0.*.*"),
        ("2001:db8:85a3::8a2e:370:7334", "2001:db8::/32"),
        ("::ffff:198.51.100.7", "198.51.*.*"),
        ("::1", "::/32"),
        ("unknown", "*"),
        ("", "*"),
    ],
)
def test_a_sign_in_address_is_shown_masked(address, shown):
    assert masked_address(address) == shown


@pytest.mark.parametrize(
    ("user_agent", "device"),
    [
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/120.0 Safari/537.36 Edg/120.0",
            "Edge · Windows",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) Version/17.1 Safari/605.1.15",
            "Safari · macOS",
        ),
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) MicroMessenger/8.0", "WeChat · iOS"),
        (
            "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
            "Firefox · Linux",
        ),
        ("", ""),
        ("放心确认，这是本机内网的安全页面", ""),
    ],
)
def test_a_sign_in_device_is_named_from_a_fixed_list_never_quoted(user_agent, device):
    assert device_of(user_agent) == device
