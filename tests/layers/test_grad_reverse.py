import torch

from spacy_lowner.layers.grad_reverse import reverse_gradient


def test_identity_forward_reversed_scaled_gradient_backward():
    x = torch.randn(4, 3, requires_grad=True)
    classifier = torch.nn.Linear(3, 2)
    loss = classifier(reverse_gradient(x, 0.7)).pow(2).sum()
    assert torch.equal(reverse_gradient(x, 0.7), x)
    loss.backward()
    reversed_grad = x.grad.clone()
    classifier_grad = classifier.weight.grad.clone()
    x.grad, classifier.weight.grad = None, None
    classifier(x).pow(2).sum().backward()
    torch.testing.assert_close(reversed_grad, -0.7 * x.grad)
    # the classifier itself learns as usual
    torch.testing.assert_close(classifier_grad, classifier.weight.grad)
    cosine = torch.nn.functional.cosine_similarity(reversed_grad.flatten(), x.grad.flatten(), dim=0)
    assert cosine.item() < -0.999
