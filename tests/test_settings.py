"""The number types of registered functions' settings (spacy_lowner/settings.py): confection
refuses a value that breaks one in its validation block, naming the setting."""
import pytest
from spacy.util import registry
from thinc.api import Config, ConfigValidationError

from spacy_lowner.settings import Fraction, NonNegativeFloat, NonNegativeInt, PositiveInt, check_setting


@registry.misc("test_settings.v1")
def make_settings(weight: NonNegativeFloat = 1.0, dropout: Fraction = 0.1, width: NonNegativeInt = 0, size: PositiveInt = 1):
    return weight, dropout, width, size


def resolve(line: str):
    return registry.resolve(Config().from_str(f'[x]\n@misc = "test_settings.v1"\n{line}\n'))["x"]


@pytest.mark.parametrize(
    "line,setting,rule",
    [
        ("weight = -1", "weight", r"-1 is not a finite number >= 0"),
        ("weight = nan", "weight", r"'nan' is not a finite number >= 0"),  # the parser leaves nan a string
        ("weight = inf", "weight", r"'inf' is not a finite number >= 0"),
        ("weight = true", "weight", r"True is not a finite number >= 0"),
        ('weight = "2"', "weight", r"'2' is not a finite number >= 0"),
        ("dropout = 1.0", "dropout", r"1.0 is not a finite number >= 0 and < 1"),
        ("dropout = -0.1", "dropout", r"-0.1 is not a finite number >= 0 and < 1"),
        ("width = -3", "width", r"-3 is not an integer >= 0"),
        ("width = 2.5", "width", r"2.5 is not an integer >= 0"),
        ("size = 0", "size", r"0 is not an integer > 0"),
    ],
)
def test_a_value_that_breaks_its_rule_is_a_config_error_naming_the_setting(line, setting, rule):
    with pytest.raises(ConfigValidationError, match=rf"x -> {setting}\s+at root: {rule}"):
        resolve(line)


def test_values_within_the_rules_pass_unchanged():
    assert resolve("weight = 0") == (0, 0.1, 0, 1)
    assert resolve("weight = 2.5\ndropout = 0\nwidth = 7\nsize = 3") == (2.5, 0, 7, 3)


def test_check_setting_names_the_setting_in_one_line():
    check_setting("the rate", 0.5, NonNegativeFloat)
    with pytest.raises(ValueError, match=r"^the rate: nan is not a finite number >= 0$"):
        check_setting("the rate", float("nan"), NonNegativeFloat)
