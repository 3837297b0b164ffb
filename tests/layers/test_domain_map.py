"""The per-domain map: identity start, only its domains' docs, orthogonal after steps."""
import torch

from spacy_lowner.layers.domain_map import DomainMap, make_domain_map, nearest_orthogonal


def test_it_starts_as_the_identity_and_maps_only_its_domains():
    module = make_domain_map(domains=["en"])(4)
    vectors = torch.randn(2, 3, 4)
    mask = torch.ones(2, 3, dtype=torch.bool)
    torch.testing.assert_close(module(vectors, mask, ["en", "zh"]), vectors)
    with torch.no_grad():
        module.maps["en"].mul_(2.0)
    output = module(vectors, mask, ["en", "zh"])
    torch.testing.assert_close(output[0], 2 * vectors[0])
    torch.testing.assert_close(output[1], vectors[1])


def test_the_other_domains_docs_give_the_map_no_gradient():
    module = DomainMap(4, domains=["en"])
    vectors = torch.randn(2, 3, 4, requires_grad=True)
    module(vectors, torch.ones(2, 3, dtype=torch.bool), ["zh", "zh"]).sum().backward()
    assert module.maps["en"].grad is None
    assert vectors.grad is not None


def test_orthogonal_maps_stay_orthogonal_after_optimizer_steps():
    torch.manual_seed(0)
    module = DomainMap(6, domains=["en"], orthogonal=True)
    optimizer = torch.optim.SGD(module.parameters(), lr=0.5)
    target = torch.randn(6, 6)
    for _ in range(5):
        vectors = torch.randn(3, 4, 6)
        loss = (module(vectors, torch.ones(3, 4, dtype=torch.bool), ["en"] * 3) - vectors @ target).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        module.after_step()
    weight = module.maps["en"].detach()
    assert not torch.allclose(weight, torch.eye(6), atol=1e-3)  # it moved
    torch.testing.assert_close(weight.T @ weight, torch.eye(6), atol=1e-5, rtol=0)


def test_nearest_orthogonal_keeps_an_orthogonal_matrix():
    rotation, _ = torch.linalg.qr(torch.randn(5, 5))
    torch.testing.assert_close(nearest_orthogonal(rotation), rotation, atol=1e-5, rtol=0)


def test_nearest_orthogonal_of_a_map_just_off_the_identity():
    # float32 LAPACK fails to converge on this one (384 wide, as me5's vectors, one small step
    # from the identity): the map's first re-projection in a real run
    weight = torch.eye(384) + 1e-6 * torch.randn(384, 384, generator=torch.Generator().manual_seed(17))
    projected = nearest_orthogonal(weight)
    assert projected.dtype == torch.float32
    torch.testing.assert_close(projected.T @ projected, torch.eye(384), atol=1e-5, rtol=0)
    torch.testing.assert_close(projected, weight, atol=1e-5, rtol=0)
