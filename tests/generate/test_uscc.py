import numpy as np
import pytest

from govlake.generate.uscc import ALPHABET, is_valid_uscc, make_usccs, org_code_check_char, uscc_check_char

# Published codes of well-known companies; each passes both the GB 11714 (org code) and the
# GB 32100 check, which a random string does with probability 1/341.
KNOWN = {
    "91440300708461136T": "华为技术有限公司",
    "91440300192317458F": "比亚迪股份有限公司",
    "91440300100012316L": "中国平安保险（集团）股份有限公司",
    "91110108551385082Q": "小米科技有限责任公司",
    "91330100799655058B": "阿里巴巴（中国）有限公司",
}


@pytest.mark.parametrize("code", KNOWN)
def test_known_real_codes(code):
    assert uscc_check_char(code[:17]) == code[17]
    assert is_valid_uscc(code)
    assert org_code_check_char(code[8:16]) == code[16]


@pytest.mark.parametrize("code", KNOWN)
def test_every_wrong_check_char_is_rejected(code):
    for c in ALPHABET:
        if c != code[17]:
            assert not is_valid_uscc(code[:17] + c)


def test_malformed_codes():
    for bad in [None, "", "91440300708461136", "91440300708461136TT", "9144030070846113IT", "91440300708461136t"]:
        assert not is_valid_uscc(bad)
    with pytest.raises(ValueError, match="not allowed"):
        uscc_check_char("9144030070846113O")


def test_generated_codes_are_valid_and_shaped():
    rng = np.random.default_rng(7)
    n = 3000
    new = rng.random(n) < 0.5
    codes = make_usccs(rng, n, np.array(["440306"] * n), new)
    assert all(is_valid_uscc(c) for c in codes)
    assert all(org_code_check_char(c[8:16]) == c[16] for c in codes)
    assert all(c.startswith("91440306") for c in codes)
    assert all(c[8:11] == "MA5" for c in codes[new])
    # Random 18-char strings are almost never valid (expected 1/31).
    rand = ["".join(rng.choice(list(ALPHABET), 18)) for _ in range(3100)]
    assert 40 < sum(map(is_valid_uscc, rand)) < 170
