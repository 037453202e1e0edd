"""Issue 15's goals on the labelled corpus (tests/unit/redaction_corpus.py): every identifier of a
masked kind masked, with its mask; at least 98% of the legitimate identifiers kept."""
from __future__ import annotations

import pytest

from refdesk.redaction import Redacted
from tests.unit import redaction_corpus
from tests.unit.redaction_corpus import CORPUS, MASKS


@pytest.fixture(scope="module")
def score() -> redaction_corpus.Score:
    return redaction_corpus.score()


def test_the_corpus_is_large_and_labelled_where_it_says():
    samples = [sample for samples in CORPUS.values() for sample in samples]
    assert len(samples) >= 150
    for text, identifiers in samples:
        position = 0
        for identifier in identifiers:  # in the order they appear
            assert identifier in text[position:], (identifier, text)
            position = text.index(identifier, position) + len(identifier)
    kinds = {kind for _, identifiers in samples for kind in identifiers.values()}
    assert set(MASKS) <= kinds and len(kinds - set(MASKS)) >= 10


def test_every_identifier_of_a_masked_kind_is_masked(score):
    for kind in MASKS:
        assert score.by_kind[kind].rate == 1.0, [wrong for wrong in score.wrong if wrong[0] == kind]


def test_legitimate_identifiers_are_kept(score):
    assert score.kept >= 0.98, [wrong for wrong in score.wrong if wrong[0] not in MASKS]


def test_an_original_shows_through_as_a_miss():
    """The score reads what staff are shown: a redactor that masks nothing misses every identifier
    to mask and keeps every legitimate one."""
    score = redaction_corpus.score(lambda text, **settings: Redacted(text))
    assert score.recall == 0.0 and score.kept == 1.0 and score.masks == 0
