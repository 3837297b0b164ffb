"""Errors that stop training or prediction with a message a user can act on."""


class TrainingDivergedError(RuntimeError):
    """The loss or the weights became NaN or infinite: training cannot go on."""


class NonFiniteScoresError(ValueError):
    """The tagger's scores are NaN or infinite: the model cannot tag."""


class ModelLoadError(ValueError):
    """A saved component that cannot be loaded: a missing, truncated or damaged file."""
