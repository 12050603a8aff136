"""Candidate pairs for many blocks at once: the same pairs a per-block loop gives."""

from __future__ import annotations

import itertools

import numpy as np

from govlake.signals.similarity import SMALL_BLOCK, block_candidates, segment_pairs, sorted_groups


def test_segment_pairs_are_all_pairs_per_segment():
    rng = np.random.default_rng(1)
    keys = rng.integers(0, 30, 200)
    order, starts, sizes = sorted_groups(keys)
    i, j = segment_pairs(order, starts, sizes)
    got = {(min(a, b), max(a, b)) for a, b in zip(i.tolist(), j.tolist())}
    want = {(a, b) for a, b in itertools.combinations(range(200), 2) if keys[a] == keys[b]}
    assert got == want and len(i) == len(want)


def test_small_blocks_all_pairs_big_blocks_banded():
    rng = np.random.default_rng(2)
    n = 120
    sig = rng.integers(0, 2**32, (n, 64))
    sig[100:110] = sig[100]  # ten copies inside the big block: every pair must be a candidate
    block = np.r_[np.repeat(np.arange(10), 8), np.full(40, 99)]  # 10 small blocks, one of 40
    row = np.arange(n)
    assert (block == 99).sum() > SMALL_BLOCK
    i, j = block_candidates(block, row, sig, threshold=0.3)
    got = set(zip(i.tolist(), j.tolist()))
    small = {(a, b) for a, b in itertools.combinations(range(80), 2) if block[a] == block[b]}
    copies = set(itertools.combinations(range(100, 110), 2))
    assert small <= got and copies <= got
    assert all(block[a] == block[b] for a, b in got)  # never across blocks
    assert len(got - small - copies) < 100  # random signatures rarely share a band


def test_a_row_in_two_blocks_is_paired_once():
    sig = np.zeros((3, 64), dtype=np.int64)
    block = np.array([0, 0, 1, 1])  # row 1 sits in blocks 0 and 1, with rows 0 and 2
    row = np.array([0, 1, 1, 2])
    i, j = block_candidates(block, row, sig, threshold=0.3)
    assert sorted(zip(i.tolist(), j.tolist())) == [(0, 1), (1, 2)]
