import pytest
import torch

from spacy_lowner.layers.bilstm import make_bilstm
from spacy_lowner.layers.self_attention import make_self_attention
from spacy_lowner.layers.transforms import LinearTransform, build_transform
from spacy_lowner.model.head import TaggerHead, deserialize_head, serialize_head
from spacy_lowner.model.tags import TagScheme

SCHEME = TagScheme(["LOC", "PER"], "BIO").to_dict()


def built(decoder="crf", hidden_width=8, transform_slot=True):
    torch.manual_seed(0)
    head = TaggerHead(hidden_width=hidden_width, dropout=0.0, transform_slot=transform_slot)
    head.build(n_in=6, scheme=SCHEME, decoder=decoder)
    return head.eval()


def test_sizes():
    head = built()
    assert (head.input_width, head.feature_width, head.n_tags, head.decoder) == (6, 8, 5, "crf")
    assert built(hidden_width=0).feature_width == 6
    with pytest.raises(ValueError, match="not built yet"):
        TaggerHead().input_width


@pytest.mark.parametrize("decoder", ["crf", "softmax"])
def test_marginals_are_distributions_and_nll_is_a_sum_over_tokens(decoder):
    head = built(decoder)
    vectors = torch.randn(3, 4, 6)
    mask = torch.tensor([[True] * 4, [True, True, False, False], [False] * 4])
    scores = head(vectors)
    marginals = head.marginals(scores, mask)
    torch.testing.assert_close(marginals.sum(-1), mask.float())
    gold = torch.tensor([[1, 2, 0, 0], [0, -1, -1, -1], [-1] * 4])
    nll = head.nll(scores, gold, mask)
    assert nll.shape == (3,) and (nll[:2] > 0).all() and nll[2].item() == 0.0
    if decoder == "softmax":
        one_token = head.nll(scores[:1, :1], gold[:1, :1], mask[:1, :1])
        first_two = head.nll(scores[:1, :2], gold[:1, :2], mask[:1, :2])
        assert first_two.item() > one_token.item()  # summed, not averaged


def test_stack_outputs_name_each_module_and_feed_the_hidden_layer():
    torch.manual_seed(0)
    modules = {"bilstm": make_bilstm(width=4), "attention": make_self_attention(heads=2)}
    head = TaggerHead(hidden_width=8, dropout=0.0, modules=modules)
    head.build(n_in=6, scheme=SCHEME, decoder="crf")
    head.eval()
    vectors = torch.randn(2, 5, 6)
    mask = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])
    outputs = head.stack_outputs(vectors, None, mask)
    assert list(outputs) == ["input", "bilstm", "attention"]
    assert [tuple(value.shape) for value in outputs.values()] == [(2, 5, 6), (2, 5, 4), (2, 5, 4)]
    assert torch.equal(outputs["input"], vectors)
    assert torch.allclose(head.stack[0](vectors, mask, ["", ""]), outputs["bilstm"])
    assert torch.allclose(head.features(vectors, None, mask), head.hidden(outputs["attention"]))


def test_training_modules_are_unique_and_unsaved():
    head = built()
    head.add_training_module("disc", torch.nn.Linear(8, 1))
    with pytest.raises(ValueError, match="already registered"):
        head.add_training_module("disc", torch.nn.Linear(8, 1))
    fresh = TaggerHead(hidden_width=8, dropout=0.0, transform_slot=True)
    deserialize_head(fresh, serialize_head(head), torch.device("cpu"))
    assert len(fresh.training_modules) == 0


def test_the_transform_slot_is_saved_and_applies_to_its_domains():
    head = built()
    transform = head.install_transform(LinearTransform(6, domains=["source"], default_domain="source"))
    with torch.no_grad():
        transform.linear.weight.mul_(2.0)
    vectors = torch.randn(3, 2, 6)
    domains = ["source", "target", None]  # None: the default domain, "source"
    scores = head(vectors, domains)
    torch.testing.assert_close(scores[0], head(2 * vectors[:1], ["target"])[0])
    torch.testing.assert_close(scores[1], head(vectors[1:2], ["target"])[0])
    torch.testing.assert_close(scores[2], head(2 * vectors[2:], ["target"])[0])
    fresh = TaggerHead(hidden_width=8, dropout=0.0, transform_slot=True)
    deserialize_head(fresh, serialize_head(head), torch.device("cpu")).eval()
    torch.testing.assert_close(fresh(vectors, domains), scores)
    assert fresh.token_transform.config() == transform.config()
    assert build_transform(transform.config()).config() == transform.config()


def test_v1_heads_have_no_transform_slot():
    head = built(transform_slot=False)
    with pytest.raises(ValueError, match="TokenTagger.v2"):
        head.install_transform(LinearTransform(6, domains=["source"]))


def test_a_transform_of_the_wrong_width_is_refused():
    with pytest.raises(ValueError, match="width 4"):
        built().install_transform(LinearTransform(4, domains=["source"]))


def test_a_kept_module_is_saved_rebuilt_and_never_used_at_prediction():
    torch.manual_seed(0)
    head = built()
    kept = head.keep_module("discriminator", "spacy_lowner.mlp.v1", input_width=head.feature_width, hidden_width=5, output_width=1)
    vectors = torch.randn(2, 3, head.input_width)
    head.eval()
    scores = head(vectors)
    with torch.no_grad():
        for param in kept.parameters():
            param.normal_(std=10.0)
    torch.testing.assert_close(head(vectors), scores)
    fresh = TaggerHead(hidden_width=head.hidden_width)
    deserialize_head(fresh, serialize_head(head), torch.device("cpu"))
    assert fresh.kept_configs == head.kept_configs
    probe = torch.randn(4, head.feature_width)
    torch.testing.assert_close(fresh.kept_module("discriminator")(probe), kept(probe))
    with pytest.raises(KeyError, match="keeps no module named 'picker'"):
        fresh.kept_module("picker")


def test_damaged_head_bytes_never_raise_an_unpickling_error():
    """torch.load's UnpicklingError suggests loading with weights_only=False, which runs any
    code a file holds: a damaged head is a ValueError instead (or, past torch.load, the
    errors the component turns into a ModelLoadError), whatever byte is flipped."""
    import pickle

    data = serialize_head(built())
    messages = set()
    for offset in range(len(data)):
        damaged = bytearray(data)
        damaged[offset] ^= 0xFF
        try:
            deserialize_head(TaggerHead(hidden_width=8, dropout=0.0, transform_slot=True), bytes(damaged), torch.device("cpu"))
        except pickle.UnpicklingError:
            raise AssertionError(f"a flip at {offset} raised an UnpicklingError")
        except (ValueError, RuntimeError, IndexError) as err:
            assert "weights_only" not in str(err)
            messages.add(str(err).split(")")[0])
    assert "the saved head cannot be read (UnpicklingError" in messages
