"""Errors that stop training or prediction with a message a user can act on."""
from confection import ConfigValidationError


class TrainingDivergedError(RuntimeError):
    """The loss or the weights became NaN or infinite: training cannot go on."""


class NonFiniteScoresError(ValueError):
    """The tagger's scores are NaN or infinite: the model cannot tag."""


class ModelLoadError(ValueError):
    """A saved component that cannot be loaded: a missing, truncated or damaged file."""


def setting_error(owner: str, setting: str, message: str) -> ConfigValidationError:
    """An error in a setting (of a reader, a batcher, an objective), raised while spaCy resolves
    the config or initialises the pipeline: `spacy train` then prints it as one block, as it
    does its own config errors, instead of a traceback."""
    return ConfigValidationError(title=f"{owner}: bad setting", errors=[{"loc": [setting], "msg": message}], show_config=False)
