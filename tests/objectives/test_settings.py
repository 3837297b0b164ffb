"""Bad objective settings are refused when the pipeline is built, before anything trains: each
in confection's validation block naming the setting (objectives' typed arguments,
spacy_lowner/settings.py), and a config whose objectives all have weight 0 by the component."""
import pytest
import spacy
from thinc.api import ConfigValidationError

BAD_SETTINGS = [
    ("spacy_lowner.supervised.v1", "weight", -1.0, "a finite number >= 0"),
    ("spacy_lowner.supervised.v1", "weight", "nan", "a finite number >= 0"),
    ("spacy_lowner.kl_prior.v1", "weight", -0.5, "a finite number >= 0"),
    ("spacy_lowner.kl_prior.v1", "prior", {"O": 0.9, "B-PER.NAM": -0.1}, "a finite number >= 0"),
    ("spacy_lowner.kl_prior.v1", "warmup_steps", -10, "an integer >= 0"),
    ("spacy_lowner.kl_confidence.v1", "start_step", -1, "an integer >= 0"),
    ("spacy_lowner.mean_teacher.v1", "ema_decay", 1.0, "a finite number >= 0 and < 1"),
    ("spacy_lowner.mean_teacher.v1", "confidence", 1.5, "a finite number >= 0 and <= 1"),
    ("spacy_lowner.mean_teacher.v1", "rampup_steps", -200, "an integer >= 0"),
    ("spacy_lowner.ssgan.v1", "beta", -2.0, "a finite number >= 0"),
    ("spacy_lowner.ssgan.v1", "generator_learning_rate", "nan", "a finite number >= 0"),
    ("spacy_lowner.ssgan.v1", "generator_dropout", 1.5, "a finite number >= 0 and < 1"),
    ("spacy_lowner.ssgan.v1", "generator_grad_clip", 0.0, "a finite number > 0"),
    ("spacy_lowner.ssgan.v1", "noise_width", 0, "an integer > 0"),
]


@pytest.mark.parametrize("name,setting,value,rule", BAD_SETTINGS, ids=[f"{n.split('.')[1]}.{s}={v}" for n, s, v, _ in BAD_SETTINGS])
def test_a_bad_objective_setting_is_a_config_error_naming_it(name, setting, value, rule):
    objectives = {"supervised": {"@lowner_objectives": "spacy_lowner.supervised.v1"}}
    objectives[name.split(".")[1]] = {"@lowner_objectives": name, setting: value}
    with pytest.raises(ConfigValidationError, match=rf"-> {setting}\s+at .*: .* is not {rule}"):
        spacy.blank("zh").add_pipe("lowner_ner", config={"objectives": objectives})


def test_objectives_that_all_have_weight_0_are_refused():
    objectives = {
        "supervised": {"@lowner_objectives": "spacy_lowner.supervised.v1", "weight": 0},
        "kl_prior": {"@lowner_objectives": "spacy_lowner.kl_prior.v1", "weight": 0.0},
    }
    with pytest.raises(ConfigValidationError, match=r"objectives\s+every objective has weight 0 \(supervised, kl_prior\)"):
        spacy.blank("zh").add_pipe("lowner_ner", config={"objectives": objectives})
    # one objective still training is fine: a supervised weight of 0 beside a regulariser is a
    # legitimate ablation, and an objective without a weight (ssgan) trains its generator
    objectives["kl_prior"]["weight"] = 0.1
    spacy.blank("zh").add_pipe("lowner_ner", config={"objectives": objectives})
    ssgan = {"supervised": objectives["supervised"], "ssgan": {"@lowner_objectives": "spacy_lowner.ssgan.v1"}}
    spacy.blank("zh").add_pipe("lowner_ner", config={"objectives": ssgan})
