import itertools
from typing import List, Optional, Tuple

import pytest
import torch

from spacy_lowner.layers.crf import CRF, DISALLOWED_SCORE, apply_constraints, viterbi_decode
from spacy_lowner.model.tags import TagScheme

# (num_tags, max_length, seed) cases small enough to enumerate every tag sequence.
CASES = [(k, t, seed) for k in (3, 4, 5) for t in (1, 2, 3, 4) for seed in (0, 1)]


def random_case(num_tags: int, length: int, seed: int):
    """A float64 CRF with random scores and random constraints, plus a padded batch.

    Row 0 has the full length, row 1 a random length, row 2 length 0. The gold path of
    each row is forced to be allowed so every constrained sum is over a non-empty set.
    """
    gen = torch.Generator().manual_seed(seed)
    lengths = [length, int(torch.randint(1, length + 1, (1,), generator=gen)), 0]
    mask = torch.arange(length).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)
    gold = torch.randint(num_tags, (len(lengths), length), generator=gen)
    allowed = torch.rand(num_tags, num_tags, generator=gen) < 0.6
    start = torch.rand(num_tags, generator=gen) < 0.6
    end = torch.rand(num_tags, generator=gen) < 0.6
    for row, n in enumerate(lengths):
        if n:
            start[gold[row, 0]] = end[gold[row, n - 1]] = True
            allowed[gold[row, : n - 1], gold[row, 1:n]] = True
    crf = CRF(allowed, start, end).double()
    with torch.no_grad():
        for param in crf.parameters():
            param.normal_(generator=gen)
    emissions = torch.randn(len(lengths), length, num_tags, generator=gen, dtype=torch.float64)
    unknown = torch.rand(gold.shape, generator=gen) < 0.4
    tags = gold.masked_fill(unknown, -1)
    return crf, emissions, mask, tags


def allowed_paths(crf: CRF, length: int):
    for path in itertools.product(range(crf.num_tags), repeat=length):
        if (
            crf.allowed_start[path[0]]
            and crf.allowed_end[path[-1]]
            and all(crf.allowed_transitions[a, b] for a, b in zip(path, path[1:]))
        ):
            yield path


def path_score(crf: CRF, emissions: torch.Tensor, path: Tuple[int, ...]) -> torch.Tensor:
    score = crf.start_transitions[path[0]] + crf.end_transitions[path[-1]]
    score = score + sum(emissions[t, tag] for t, tag in enumerate(path))
    return score + sum(crf.transitions[a, b] for a, b in zip(path, path[1:]))


def brute_log_sum(crf: CRF, emissions: torch.Tensor, length: int, tags: Optional[List[int]] = None):
    if length == 0:
        return torch.tensor(0.0, dtype=torch.float64)
    scores = [
        path_score(crf, emissions, path)
        for path in allowed_paths(crf, length)
        if tags is None or all(g < 0 or g == p for g, p in zip(tags, path))
    ]
    return torch.logsumexp(torch.stack(scores), dim=0)


@pytest.mark.parametrize("num_tags,length,seed", CASES)
def test_log_partition_and_likelihood_match_enumeration(num_tags, length, seed):
    crf, emissions, mask, tags = random_case(num_tags, length, seed)
    log_z = crf.log_partition(emissions, mask)
    log_lik = crf.log_likelihood(emissions, tags, mask)
    with torch.no_grad():
        for row, n in enumerate(mask.sum(1).tolist()):
            expected_z = brute_log_sum(crf, emissions[row], n)
            expected_gold = brute_log_sum(crf, emissions[row], n, tags[row, :n].tolist())
            assert log_z[row].item() == pytest.approx(expected_z.item(), abs=1e-6)
            assert log_lik[row].item() == pytest.approx((expected_gold - expected_z).item(), abs=1e-6)


@pytest.mark.parametrize("num_tags,length,seed", CASES)
def test_viterbi_matches_enumeration(num_tags, length, seed):
    crf, emissions, mask, _ = random_case(num_tags, length, seed)
    decoded = crf.decode(emissions, mask)
    assert decoded.dtype == torch.long and decoded.shape == mask.shape
    with torch.no_grad():
        for row, n in enumerate(mask.sum(1).tolist()):
            if n:
                best = max(allowed_paths(crf, n), key=lambda p: path_score(crf, emissions[row], p).item())
                assert decoded[row, :n].tolist() == list(best)
            assert decoded[row, n:].eq(0).all()


@pytest.mark.parametrize("num_tags,length,seed", CASES)
def test_marginals_match_enumeration(num_tags, length, seed):
    crf, emissions, mask, _ = random_case(num_tags, length, seed)
    marginals = crf.marginals(emissions, mask)
    assert marginals.shape == emissions.shape
    with torch.no_grad():
        for row, n in enumerate(mask.sum(1).tolist()):
            if n:
                expected = torch.zeros(n, num_tags, dtype=torch.float64)
                log_z = brute_log_sum(crf, emissions[row], n)
                for path in allowed_paths(crf, n):
                    weight = (path_score(crf, emissions[row], path) - log_z).exp()
                    for t, tag in enumerate(path):
                        expected[t, tag] += weight
                torch.testing.assert_close(marginals[row, :n], expected, atol=1e-9, rtol=1e-7)
                torch.testing.assert_close(marginals[row, :n].sum(-1), torch.ones(n, dtype=torch.float64))
            assert marginals[row, n:].eq(0).all()


def test_marginals_are_the_gradient_of_the_log_partition():
    crf, emissions, mask, _ = random_case(5, 6, seed=4)
    emissions.requires_grad_()
    (grad,) = torch.autograd.grad(crf.log_partition(emissions, mask).sum(), emissions)
    torch.testing.assert_close(crf.marginals(emissions, mask), grad)


def test_float32_marginals_of_long_rows_with_large_scores_sum_to_one():
    # What a trained tagger gives a 100-character Weibo post: scores in the tens, a log
    # partition in the thousands, where float32 keeps about 1e-4 of it.
    tag_scheme = TagScheme(["GPE", "LOC", "ORG", "PER"], "BIO")
    crf = CRF(tag_scheme.allowed_transitions(), tag_scheme.allowed_start(), tag_scheme.allowed_end())
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        crf.transitions.normal_(std=3.0, generator=gen)
    emissions = 20 * torch.rand(4, 120, len(tag_scheme), generator=gen)
    mask = torch.arange(120).unsqueeze(0) < torch.tensor([[120], [90], [60], [1]])
    marginals = crf.marginals(emissions, mask)
    sums = marginals.sum(-1)[mask]
    assert (sums - 1).abs().max() < 1e-5


@pytest.mark.parametrize("scheme", ["BIO", "BIOES"])
def test_decoded_paths_respect_the_scheme(scheme):
    tag_scheme = TagScheme(["LOC", "ORG", "PER"], scheme)
    allowed = tag_scheme.allowed_transitions()
    start, end = tag_scheme.allowed_start(), tag_scheme.allowed_end()
    crf = CRF(allowed, start, end)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for param in crf.parameters():
            param.normal_(generator=gen)
    emissions = 5 * torch.randn(16, 12, len(tag_scheme), generator=gen)
    mask = torch.arange(12).unsqueeze(0) < torch.randint(1, 13, (16, 1), generator=gen)
    # The softmax decoder: log-probabilities as scores, 0 / DISALLOWED_SCORE transitions.
    softmax_paths = viterbi_decode(
        emissions.log_softmax(-1),
        mask,
        apply_constraints(torch.zeros(allowed.shape), allowed),
        apply_constraints(torch.zeros(start.shape), start),
        apply_constraints(torch.zeros(end.shape), end),
    )
    for paths in (crf.decode(emissions, mask), softmax_paths):
        for row, n in enumerate(mask.sum(1).tolist()):
            path = paths[row, :n].tolist()
            assert start[path[0]] and end[path[-1]]
            assert all(allowed[a, b] for a, b in zip(path, path[1:]))
            biluo = tag_scheme.to_biluo(path)
            assert tag_scheme.from_biluo(biluo) == path


def test_disallowed_scores_cannot_be_learned_away():
    scheme = TagScheme(["PER"], "BIO")
    crf = CRF(scheme.allowed_transitions(), scheme.allowed_start(), scheme.allowed_end())
    with torch.no_grad():
        crf.transitions.fill_(100.0)
        crf.start_transitions.fill_(100.0)
    transitions, start, _ = crf.masked_transitions(torch.zeros(1))
    assert transitions[0, 2].item() == DISALLOWED_SCORE  # O -> I-PER
    assert start[2].item() == DISALLOWED_SCORE


def test_gradients_are_finite_even_for_gold_that_breaks_constraints():
    scheme = TagScheme(["LOC", "PER"], "BIOES")
    crf = CRF(scheme.allowed_transitions(), scheme.allowed_start(), scheme.allowed_end())
    emissions = torch.randn(3, 5, len(scheme), requires_grad=True)
    # Row 0 starts with I-LOC (forbidden), row 1 is partly unknown, row 2 is empty.
    tags = torch.tensor([[2, 3, 0, 0, 0], [-1, 5, -1, -1, 7], [-1] * 5])
    mask = torch.tensor([[True] * 5, [True] * 5, [False] * 5])
    log_lik = crf.log_likelihood(emissions, tags, mask)
    log_lik.sum().backward()
    assert torch.isfinite(log_lik).all() and log_lik[2].item() == 0.0
    assert torch.isfinite(emissions.grad).all()
    assert torch.isfinite(crf.transitions.grad).all()
    assert emissions.grad[2].eq(0).all()


def test_padding_does_not_change_results():
    crf, emissions, mask, tags = random_case(4, 4, seed=3)
    garbage = emissions.masked_fill(~mask.unsqueeze(2), 1e3)
    log_lik = crf.log_likelihood(garbage, tags, mask)
    decoded = crf.decode(garbage, mask)
    for row, n in enumerate(mask.sum(1).tolist()):
        if n:
            alone = (emissions[row : row + 1, :n], tags[row : row + 1, :n], mask[row : row + 1, :n])
            assert log_lik[row].item() == pytest.approx(crf.log_likelihood(*alone).item(), abs=1e-9)
            assert decoded[row, :n].tolist() == crf.decode(alone[0], alone[2])[0].tolist()


def test_empty_batch_dimensions_and_float32():
    scheme = TagScheme(["PER"], "BIO")
    crf = CRF(scheme.allowed_transitions(), scheme.allowed_start(), scheme.allowed_end())
    empty = torch.zeros(2, 0, len(scheme))
    no_positions = torch.zeros(2, 0, dtype=torch.bool)
    assert crf.log_likelihood(empty, torch.zeros(2, 0, dtype=torch.long), no_positions).tolist() == [0.0, 0.0]
    assert crf.decode(empty, no_positions).shape == (2, 0)
    emissions = torch.randn(2, 3, len(scheme), dtype=torch.float64)
    mask = torch.ones(2, 3, dtype=torch.bool)
    tags = torch.tensor([[1, 2, 0], [0, -1, -1]])
    as_float32 = crf.log_likelihood(emissions.float(), tags, mask)
    as_float64 = crf.log_likelihood(emissions, tags, mask)
    assert as_float32.dtype == torch.float32 and as_float64.dtype == torch.float64
    assert torch.allclose(as_float32.double(), as_float64, atol=1e-5)


def test_rejects_inconsistent_constraint_shapes():
    allowed = torch.ones(3, 3, dtype=torch.bool)
    with pytest.raises(ValueError, match="got"):
        CRF(allowed, torch.ones(3, dtype=torch.bool), torch.ones(4, dtype=torch.bool))
