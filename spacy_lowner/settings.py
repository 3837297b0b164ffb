"""Number types for the arguments of registered functions (architectures, objectives), so that
a bad setting is refused in spaCy's config validation block, naming the setting, before
anything is built or trained:

    ✘ Config error for 'spacy_lowner.supervised.v1'
    supervised -> weight    at root: -1 is not a finite number >= 0

spaCy 3.8 checks arguments with confection 1.3's own type checker, which drops the
constraints of pydantic v2's `confloat(ge=0)` (an `Annotated` float) and accepts `nan` as a
float (the config parser leaves it a string). It does call a type's pydantic validator (v2's
`__get_pydantic_core_schema__`; older confections build pydantic v1 models, which call
`__get_validators__`), so each type here carries one; its name in the error is the rule the
value broke.
"""
import math
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple


class _Rule(type):
    """Metaclass of the setting types: a type reads as its rule ("a finite number >= 0")."""

    rule: str

    def __repr__(cls) -> str:
        return cls.rule


def _setting(rule: str, accepts: Callable[[Any], bool]) -> type:
    """A type whose pydantic validator passes the values `accepts` and refuses the rest."""

    def validate(value: Any) -> Any:
        if not accepts(value):
            raise ValueError(f"{value!r} is not {rule}")
        return value

    def schema(cls: type, source: Any, handler: Any) -> Dict[str, Any]:
        # pydantic_core.core_schema.no_info_plain_validator_function(validate), written out:
        # pydantic_core is not there under pydantic v1.
        return {"type": "function-plain", "function": {"type": "no-info", "function": validate}}

    def validators(cls: type) -> Iterator[Callable[[Any], Any]]:
        yield validate

    namespace = {
        "rule": rule,
        "validate": staticmethod(validate),
        "__get_pydantic_core_schema__": classmethod(schema),
        "__get_validators__": classmethod(validators),
    }
    return _Rule(rule, (), namespace)


def _bounds(ge: Optional[float], gt: Optional[float], le: Optional[float], lt: Optional[float]) -> List[Tuple[str, float]]:
    return [(op, bound) for op, bound in ((">=", ge), (">", gt), ("<=", le), ("<", lt)) if bound is not None]


def _within(value: float, bounds: List[Tuple[str, float]]) -> bool:
    checks = {">=": value.__ge__, ">": value.__gt__, "<=": value.__le__, "<": value.__lt__}
    return all(checks[op](bound) for op, bound in bounds)


def _is_number(value: Any) -> bool:
    # bool is an int, and a string ("nan", "1e-3") is what the config parser leaves of a value
    # that is not JSON: neither is a number here.
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def finite_float(
    ge: Optional[float] = None, gt: Optional[float] = None, le: Optional[float] = None, lt: Optional[float] = None
) -> type:
    """A finite int or float (not NaN or infinite) within the bounds given."""
    bounds = _bounds(ge, gt, le, lt)
    rule = " ".join(["a finite number", " and ".join(f"{op} {bound:g}" for op, bound in bounds)]).strip()
    return _setting(rule, lambda value: _is_number(value) and math.isfinite(value) and _within(float(value), bounds))


def whole_number(ge: Optional[int] = None, gt: Optional[int] = None) -> type:
    """An int (not a bool or a float) within the bounds given."""
    bounds = _bounds(ge, gt, None, None)
    rule = " ".join(["an integer", " and ".join(f"{op} {bound}" for op, bound in bounds)]).strip()
    return _setting(rule, lambda value: isinstance(value, int) and not isinstance(value, bool) and _within(value, bounds))


def check_setting(name: str, value: Any, setting: type) -> None:
    """A one-line ValueError naming the setting if `value` breaks the rule of `setting` (one of
    the types here), for settings that do not come through a config (command options)."""
    try:
        setting.validate(value)
    except ValueError as err:
        raise ValueError(f"{name}: {err}") from None


NonNegativeFloat = finite_float(ge=0)  # weights, learning rates, exponents
PositiveFloat = finite_float(gt=0)  # factors that divide, norms to clip to
Fraction = finite_float(ge=0, lt=1)  # dropout, decay rates
Probability = finite_float(ge=0, le=1)  # thresholds on probabilities
NonNegativeInt = whole_number(ge=0)  # widths where 0 means none, steps
PositiveInt = whole_number(gt=0)  # sizes
