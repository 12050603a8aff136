"""统一社会信用代码 (GB 32100-2015) and its embedded 组织机构代码 (GB 11714-1997).

Layout: 登记管理部门码(1) + 机构类别码(1) + 行政区划码(6) + 组织机构代码(9, last char is its own
GB 11714 check) + GB 32100 check char(1). Check characters are computed over the 31-char alphabet
below (no I, O, S, V, Z). Used by the generator and by ingestion's `uscc` rule.
"""

from __future__ import annotations

import numpy as np

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
# Weight of position i (0-based) is 3**i mod 31.
WEIGHTS = [pow(3, i, 31) for i in range(17)]
ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2]


def uscc_check_char(first17: str) -> str:
    """The 18th character for the first 17 (raises ValueError on characters outside the alphabet)."""
    if len(first17) != 17:
        raise ValueError(f"need 17 characters, got {len(first17)}: {first17!r}")
    try:
        s = sum(_VALUE[c] * w for c, w in zip(first17.upper(), WEIGHTS))
    except KeyError as e:
        raise ValueError(f"character {e.args[0]!r} is not allowed in a USCC (统一社会信用代码)") from None
    return ALPHABET[(31 - s % 31) % 31]


def is_valid_uscc(code: str | None) -> bool:
    if not isinstance(code, str) or len(code) != 18 or any(c not in _VALUE for c in code):
        return False
    return uscc_check_char(code[:17]) == code[17]


def org_code_check_char(first8: str) -> str:
    """GB 11714 check char of a 组织机构代码 body: letters count A=10 .. Z=35; 10 -> X, 11 -> 0."""
    s = sum((int(c) if c.isdigit() else ord(c) - 55) * w for c, w in zip(first8.upper(), ORG_WEIGHTS))
    c = 11 - s % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


# -- vectorised generation -------------------------------------------------------------------
_ALPHA_ARR = np.array(list(ALPHABET))
_ORG_VAL = np.array([int(c) if c.isdigit() else ord(c) - 55 for c in ALPHABET])


def make_usccs(rng: np.random.Generator, n: int, region_codes: np.ndarray, new_style: np.ndarray) -> np.ndarray:
    """n valid codes. new_style rows get a 'MA5' + 5-char org code body (post-2015 Shenzhen style),
    others an 8-digit numeric body. Prefix 91 = 工商 registered enterprise."""
    body = rng.integers(0, 10, size=(n, 8))  # indices into ALPHABET (digits)
    alnum = rng.integers(0, 31, size=(n, 5))
    body[new_style, 0] = _VALUE["M"]
    body[new_style, 1] = _VALUE["A"]
    body[new_style, 2] = 5
    body[new_style, 3:] = alnum[new_style]
    org_vals = _ORG_VAL[body]
    c9 = 11 - (org_vals * np.array(ORG_WEIGHTS)).sum(axis=1) % 11
    c9_idx = np.where(c9 == 10, _VALUE["X"], np.where(c9 == 11, 0, c9))
    region = np.array([[int(ch) for ch in r] for r in region_codes]) if len(region_codes) else np.zeros((0, 6), int)
    head = np.tile([_VALUE["9"], _VALUE["1"]], (n, 1))
    idx17 = np.concatenate([head, region, body, c9_idx[:, None]], axis=1)
    check = (31 - (idx17 * np.array(WEIGHTS)).sum(axis=1) % 31) % 31
    idx18 = np.concatenate([idx17, check[:, None]], axis=1)
    chars = _ALPHA_ARR[idx18]
    return np.array(["".join(r) for r in chars]) if n < 1000 else chars.view("<U18").ravel()
