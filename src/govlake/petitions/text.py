"""Chinese text -> tokens. One normalisation for training and scoring, so they never drift.

A "doc" is the space-joined token string of one message: jieba words for raw text, or the
tokens of an already segmented corpus. Every vectoriser works on docs, so pre-segmented
training data (messages_labeled_segmented.csv) and raw text share one feature space.
"""

from __future__ import annotations

import gc
import re
import unicodedata
from collections import defaultdict
from contextlib import contextmanager
from typing import Iterable, Sequence

from govlake.petitions.segment import get_jieba, get_segmenter

# Generic function words (pronouns, particles, conjunctions, prepositions, adverbs).
# Deliberately domain-free: the model is also trained on hotline data with other labels.
STOPWORDS = frozenset(
    """的 了 是 在 我 我们 你 你们 他 他们 她 它 它们 您 咱们 自己 本人 这 那 这个 那个 这些 那些
    这样 那样 这么 那么 如此 之 其 其他 其它 此 该 各 每 某 哪 哪些 谁 什么 怎么 怎样 如何 为何
    为什么 多少 几 吗 呢 吧 啊 呀 哦 嘛 么 哈 的话 和 与 及 以及 并 并且 而 而且 或 或者 还是 但
    但是 可是 然而 不过 因为 因此 所以 由于 因 于是 如果 假如 要是 虽然 尽管 即使 只要 只有 除了
    无论 不管 对 对于 关于 把 被 让 给 向 从 自 到 往 为 为了 以 按 按照 根据 通过 经过 由 在于
    于 至 比 跟 同 将 就 都 也 还 又 再 才 已 已经 曾 曾经 正在 一直 仍 仍然 都是 就是 也是 不是
    只是 可以 可 能 能够 会 要 应 应该 需要 得 地 着 过 所 等 等等 们 个 一 一个 一些 有 没有 没
    不 很 非常 更 最 太 多 大 上 下 里 中 内 外 时候 时 后 前 当 之后 之前 同时 且 均 亦 则 即 乃
    若 啦 哎 唉 嗯 呵 喂 诶""".split()
)

_PUNCT = re.compile(r"^[\W_]+$")
_DIGITS = re.compile(r"\d+")
# Long messages state the matter first; the tail is mostly narrative. Capping the length keeps
# batch scoring fast (jieba is the cost) without hurting accuracy (see docs/petitions.md).
MAX_CHARS = 600
HEAD_TOKENS = 12  # "title" proxy: the first tokens get their own feature block
# jieba's HMM guesses unseen words; off is ~1.3x faster and the char n-grams cover unseen words.
HMM = True

def normalize(text: str) -> str:
    """NFKC (full-width -> ASCII), lower case, every number -> 0 (phone numbers, dates, ids)."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    return _DIGITS.sub("0", text)


def _keep(tok: str) -> bool:
    return bool(tok.strip()) and tok not in STOPWORDS and not _PUNCT.match(tok)


def tokenize(text: str, max_chars: int | None = MAX_CHARS, hmm: bool = HMM) -> list[str]:
    """Raw Chinese text -> jieba words without stop words and punctuation.
    max_chars=None: the whole text (used for the training-time overlap check)."""
    jb = get_jieba()
    # cut before normalising: NFKC over a 3,000-character message we then drop costs ~0.1 ms
    return [t for t in jb.lcut(normalize((text or "")[:max_chars]), HMM=hmm) if _keep(t)]


def tokenize_segmented(text: str, max_chars: int | None = MAX_CHARS) -> list[str]:
    """Already segmented text (tokens separated by spaces) -> the same token stream."""
    out, size = [], 0
    limit = max_chars * 3 // 4 if max_chars else float("inf")
    for t in normalize(text).split():
        if size >= limit:  # stop words already removed: ~3/4 of the raw length
            break
        if _keep(t):
            out.append(t)
            size += len(t)
    return out


def to_doc(text: str, max_chars: int | None = MAX_CHARS, hmm: bool = HMM) -> str:
    return " ".join(tokenize(text, max_chars, hmm))


# From this many texts on, segment batch-wise (segment.BatchSegmenter: jieba's exact tokens,
# ~3x cheaper); below it numpy's per-call overhead outweighs the gain (online scoring).
BATCH_MIN = 16
_KEEP: dict[str, bool] = {}  # token -> kept? (a pure function of the token, memoised)


def _keep_all(tokens: list[str]) -> list[str]:
    memo = _KEEP
    if len(memo) > 1_000_000:
        memo.clear()
    out = []
    for t in tokens:
        k = memo.get(t)
        if k is None:
            k = memo[t] = _keep(t)
        if k:
            out.append(t)
    return out


def tokenize_many(texts: Sequence[str], max_chars: int | None = MAX_CHARS, hmm: bool = HMM) -> list[list[str]]:
    """[tokenize(t, max_chars, hmm) for t in texts], batch-wise when it pays."""
    if not hmm or len(texts) < BATCH_MIN:  # the batch segmenter implements jieba's HMM mode
        return [tokenize(t, max_chars, hmm) for t in texts]
    with gc_paused():
        cut = get_segmenter().lcut_many([normalize((t or "")[:max_chars]) for t in texts])
        return [_keep_all(toks) for toks in cut]


@contextmanager
def gc_paused():
    """Batch code allocates ~10^5 lists and strings and makes no reference cycles; the cyclic
    collector would otherwise walk the large dictionaries (jieba's, the vocabularies) again
    and again: measured ~0.1 ms per message."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def to_docs(texts: Iterable[str], max_chars: int | None = MAX_CHARS, hmm: bool = HMM) -> list[str]:
    return [" ".join(toks) for toks in tokenize_many(list(texts), max_chars, hmm)]


def segmented_to_docs(texts: Iterable[str], max_chars: int | None = MAX_CHARS) -> list[str]:
    return [" ".join(tokenize_segmented(t, max_chars)) for t in texts]


def head(doc: str, n: int = HEAD_TOKENS) -> str:
    return " ".join(doc.split()[:n])


def overlap_mask(candidates: Sequence[str], protected: Sequence[str], threshold: float = 0.5) -> list[bool]:
    """True for each candidate doc that is (nearly) one of the protected docs.

    Containment = |tokens(candidate) & tokens(protected)| / |tokens(candidate)|. A segmented
    copy of a held-out message has its stop words removed, so it is ~fully contained in the
    held-out message's tokens (measured: >= 0.87 for every raw message); unrelated messages
    stay below ~0.45. 0.5 errs on the side of dropping.
    """
    cand_sets = [set(d.split()) for d in candidates]
    index: dict[str, list[int]] = defaultdict(list)
    for j, toks in enumerate(cand_sets):
        for t in toks:
            index[t].append(j)
    best = [0.0] * len(cand_sets)
    for doc in protected:
        hits: dict[int, int] = defaultdict(int)
        for t in set(doc.split()):
            for j in index.get(t, ()):
                hits[j] += 1
        for j, c in hits.items():
            v = c / len(cand_sets[j])
            if v > best[j]:
                best[j] = v
    return [b >= threshold for b in best]
