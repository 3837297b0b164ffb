import pytest

from bench.stats import mean_std, paired_difference, t_quantile
from bench.systems import OptionError, parse_systems, parse_value


def test_mean_std_in_percent():
    assert mean_std([0.5, 0.6, 0.7]) == "60.00 ± 10.00"
    assert mean_std([0.5]) == "50.00"
    assert mean_std([]) == "-"


def test_paired_difference_uses_shared_seeds_and_a_t_interval():
    system = {0: 0.50, 1: 0.52, 2: 0.49, 3: 0.55, 4: 0.53, 9: 0.99}
    baseline = {0: 0.48, 1: 0.50, 2: 0.50, 3: 0.50, 4: 0.50}
    diff = paired_difference(system, baseline)
    # differences 2, 2, -1, 5, 3 points: mean 2.2, sd 2.168, t(4) = 2.776
    assert diff.n == 5 and diff.mean == pytest.approx(0.022)
    half = 2.776 * 0.021679 / 5**0.5
    assert diff.low == pytest.approx(0.022 - half, abs=1e-5) and diff.high == pytest.approx(0.022 + half, abs=1e-5)
    assert (diff.wins, diff.losses) == (4, 1)
    assert diff.format() == f"+2.20 [{100 * (0.022 - half):+.2f}, {100 * (0.022 + half):+.2f}] 4/1"
    assert paired_difference({0: 0.5}, {1: 0.4}) is None
    assert paired_difference({0: 0.5}, {0: 0.4}).format() == "+10.00 1/0"


def test_t_quantiles():
    assert t_quantile(1) == 12.706 and t_quantile(4) == 2.776 and t_quantile(100) == 1.96


def test_system_options(tmp_path):
    config = tmp_path / "a.cfg"
    config.write_text("", encoding="utf8")
    systems = parse_systems([f"a={config}"], ["a:training.max_steps=10"])
    assert systems["a"].overrides == {"training.max_steps": "10"}
    with pytest.raises(OptionError, match="not found"):
        parse_systems([f"b={tmp_path / 'b.cfg'}"])
    assert parse_value("10") == 10 and parse_value("true") is True and parse_value("null") is None
    assert parse_value("assets/x") == "assets/x" and parse_value("[1, 2]") == [1, 2]


def test_a_system_composed_on_the_command_line(tmp_path):
    from pathlib import Path

    configs = Path(__file__).resolve().parents[2] / "configs"
    spec = f"mt={configs / 'weibo_cnn.cfg'}+{configs / 'parts' / 'mixed_batches.cfg'}+{configs / 'objectives' / 'mean_teacher.cfg'}"
    system = parse_systems([spec])["mt"]
    assert system.spec == spec.partition("=")[2]  # what the sweep's log names
    path = system.config_file(tmp_path)
    assert path == tmp_path / "configs" / "mt.cfg"
    assert "[components.lowner_ner.objectives.mean_teacher]" in path.read_text(encoding="utf8")
    with pytest.raises(OptionError, match="not found"):
        parse_systems([f"x={configs / 'weibo_cnn.cfg'}+{tmp_path / 'missing.cfg'}"])
