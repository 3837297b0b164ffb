import json
import shlex
import shutil
from itertools import islice

import pytest
import spacy
from spacy.tokens import DocBin
from typer.testing import CliRunner

from bench.advpicker import COMPARISONS, AdvPickerConfigs, AdvPickerData, AdvPickerReport, advpicker_systems, check_systems, comparison_table
from bench.cli import app
from bench.runs import RunResult, read_result
from spacy_lowner.cli import app as spacy_lowner_app
from spacy_lowner.corpora.convert import read_docs
from spacy_lowner.model.channels import doc_teacher
from tests.wheels import install_wheel, run_with

# Tiny runs: each stage's training a few steps on a few dozen sentences with the tiny encoder.
STEPS = ["-o", "training.max_steps=4", "-o", "training.eval_frequency=2", "-o", "training.batcher.size=400"]


@pytest.fixture(scope="module")
def corpora(tmp_path_factory, shared_data):
    """24 sentences of each corpus (CoNLL-2003 English, CoNLL-2002 Spanish) as DocBins."""
    folder = tmp_path_factory.mktemp("advpicker_corpora")
    nlp = spacy.blank("xx")
    files = {
        "source_train": shared_data / "conll2003" / "train.txt", "source_dev": shared_data / "conll2003" / "valid.txt",
        "target_train": shared_data / "conll2002_es" / "esp.train", "target_dev": shared_data / "conll2002_es" / "esp.testa",
        "test": shared_data / "conll2002_es" / "esp.testb",
    }
    paths = {}
    for name, path in files.items():
        paths[name] = folder / f"{name}.spacy"
        DocBin(docs=list(islice(read_docs("conll", path, nlp), 24))).to_disk(paths[name])
    return paths


def corpus_options(corpora):
    return [item for name, path in corpora.items() for item in (f"--{name.replace('_', '-')}", str(path))]


@pytest.fixture(scope="module")
def workflow(tmp_path_factory, corpora, tiny_encoder):
    """Two seeds of the teacher and both distilled students, source dev selection: run once,
    then again (which trains nothing)."""
    output = tmp_path_factory.mktemp("advpicker") / "out"
    args = ["advpicker", str(output), "--encoder", str(tiny_encoder), *corpus_options(corpora), "--seeds", "0,1",
            "--selections", "source", "--systems", "teacher,student_picked,student_all", *STEPS, "--threads", "1"]
    first = CliRunner().invoke(app, args)
    second = CliRunner().invoke(app, args)
    return output / "source_dev", first, second


def test_stages_run_in_order(workflow):
    """The teachers of every seed, then one pick, then the students seed by seed."""
    folder, first, _ = workflow
    assert first.exit_code == 0, first.output
    order = [line for line in first.output.splitlines() if line.startswith("[") or "pick:" in line]
    stages = [("teacher" if "] teacher" in line else "pick" if "pick:" in line else "student") for line in order]
    assert stages.index("pick") > max(i for i, stage in enumerate(stages) if stage == "teacher")
    assert stages.index("pick") < min(i for i, stage in enumerate(stages) if stage == "student")
    for system in ("teacher", "student_picked", "student_all"):
        for seed in (0, 1):
            assert (folder / "runs" / f"{system}-seed{seed}" / "model-best").is_dir()


def test_a_second_run_trains_nothing(workflow):
    folder, first, second = workflow
    assert second.exit_code == 0, second.output
    assert second.output.count("(done before)") == 6
    assert "pick: teacher" not in second.output and "epoch" not in second.output


def test_the_picked_set_is_shared_by_every_student_seed(workflow, corpora):
    folder, _, _ = workflow
    record = json.loads((folder / "pick.json").read_text())
    assert record["teachers"] == [str(folder / "runs" / f"teacher-seed{seed}" / "model-best") for seed in (0, 1)]
    assert sum(record["by_teacher"]) == record["picked"] == int(0.8 * record["docs"])
    picked = folder / "picked" / "picked.spacy"
    for seed in (0, 1):
        command = shlex.split(read_result(folder / "runs" / f"student_picked-seed{seed}" / "result.json").train_command)
        assert command[command.index("--paths.train") + 1] == str(picked)
    docs = list(DocBin().from_disk(picked).get_docs(spacy.blank("es").vocab))
    assert len(docs) == record["picked"] and all(doc_teacher(doc) is not None for doc in docs)
    assert len(DocBin().from_disk(folder / "picked" / "all.spacy")) == record["docs"] == 24


def test_the_records(workflow, corpora):
    """Each run's commands and seed; the pick's pseudo-label F1s; the tables and the figure."""
    folder, _, _ = workflow
    results = json.loads((folder / "results.json").read_text())
    assert sorted((r["system"], r["seed"]) for r in results) == sorted(
        (system, seed) for system in ("teacher", "student_picked", "student_all") for seed in (0, 1)
    )
    teacher = next(r for r in results if r["system"] == "teacher")
    assert "--paths.unlabeled " + str(corpora["target_train"]) in teacher["train_command"]
    assert teacher["config"].endswith("conll_trf_language_adversarial.cfg") and "--system.seed" in teacher["train_command"]
    record = json.loads((folder / "pick.json").read_text())
    assert set(record["pseudo_label_f1"]) == {"picked", "left_out", "all"}
    assert record["commands"]["picked.spacy"].endswith("--rho 0.8")
    markdown = (folder / "results.md").read_text()
    assert "| student_picked | student_all | 0,1 |" in markdown
    assert "sentences picked" in markdown
    assert (folder / "f1_by_system.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_systems_train_on_their_stage_s_data(tmp_path):
    data = AdvPickerData(*(tmp_path / f"{name}.spacy" for name in ("st", "sd", "tt", "td", "test")))
    systems = advpicker_systems(AdvPickerConfigs(), data, tmp_path / "picked")
    assert list(systems) == ["source_only", "control", "teacher", "student_picked", "student_all", "self_train_all"]
    assert systems["control"].overrides["components.lowner_ner.objectives.language_adversarial.weight"] == "0"
    assert systems["control"].config == systems["teacher"].config
    assert "components.lowner_ner.objectives.language_adversarial.weight" not in systems["teacher"].overrides
    assert systems["teacher"].overrides["paths.unlabeled"] == str(data.target_train)
    assert systems["student_all"].overrides["paths.train"] == str(tmp_path / "picked" / "all.spacy")
    assert systems["self_train_all"].overrides["paths.train"] == str(tmp_path / "picked" / "hard.spacy")


def test_students_need_the_teacher():
    with pytest.raises(ValueError, match="add teacher"):
        check_systems(["source_only", "student_picked"])
    with pytest.raises(ValueError, match="unknown systems"):
        check_systems(["teacher", "student"])


def test_comparison_table_pairs_by_seed():
    def run(system, seed, f):
        return RunResult(system, seed, "c.cfg", 10, 1, 1.0, 0.5, test={"ents_f": f})

    results = [run("source_only", 0, 0.50), run("source_only", 1, 0.60), run("teacher", 0, 0.55), run("teacher", 1, 0.62)]
    table = comparison_table(results).splitlines()
    assert len(table) == 2 + len(COMPARISONS)
    assert table[2] == "| teacher | source_only | 0,1 | 58.50 ± 4.95 | 55.00 ± 7.07 | +3.50 [-15.56, +22.56] 2/0 |"
    assert table[3] == "| teacher | control | - | 58.50 ± 4.95 | - | - |"


def test_the_report_is_the_same_whichever_systems_its_writer_ran(tmp_path):
    """Processes split by seed or stage share a folder; the last to finish writes its report:
    the systems in the workflow's order, against source_only, whatever that process was given."""
    def run(system, seed, f):
        return RunResult(system, seed, "c.cfg", 10, 1, 1.0, 0.5, test={"ents_f": f})

    rows = [run("student_picked", 0, 0.58), run("teacher", 0, 0.55), run("source_only", 0, 0.56)]
    table = AdvPickerReport("source_only", selection="target").markdown(rows, tmp_path).split("\n\n")[1].splitlines()
    assert "F1 − source_only" in table[0]
    assert [line.split(" | ")[0] for line in table[2:]] == ["| source_only", "| teacher", "| student_picked"]
    assert table[4].split(" | ")[-2] == "+2.00 1/0"
    alone = AdvPickerReport("source_only", selection="target").markdown(rows[:2], tmp_path)
    assert "source_only" not in alone.split("\n\n")[1]


def test_a_picked_set_of_other_teachers_is_refused(workflow, corpora, tiny_encoder):
    folder, _, _ = workflow
    args = ["advpicker", str(folder.parent), "--encoder", str(tiny_encoder), *corpus_options(corpora), "--seeds", "0",
            "--selections", "source", "--systems", "teacher,self_train_all", *STEPS, "--threads", "1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert "was picked by other teachers" in result.output and "use another OUTPUT" in result.output


def test_a_fresh_clone_refuses_other_teachers_before_training_them(workflow, corpora, tiny_encoder, tmp_path):
    """A fresh clone (runs/ and picked/ not committed) whose pick.json names other teachers is
    refused before any teacher is trained again for the pick it would then refuse."""
    clone = tmp_path / "clone"
    shutil.copytree(workflow[0].parent, clone)
    for uncommitted in ("runs", "picked"):
        shutil.rmtree(clone / "source_dev" / uncommitted)
    args = ["advpicker", str(clone), "--encoder", str(tiny_encoder), *corpus_options(corpora), "--seeds", "0",
            "--selections", "source", "--systems", "teacher,self_train_all", *STEPS, "--threads", "1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    said = " ".join(result.output.split())
    assert "was picked by other teachers" in said
    assert "training it again" not in said and not (clone / "source_dev" / "runs" / "teacher-seed0" / "model-best").exists()


def test_a_fresh_clone_trains_the_teachers_again_to_pick(tmp_path, corpora, tiny_encoder):
    """results.json keeps the teachers' scores but not their models (runs/ is not committed):
    the students of a fresh clone need a pick, so each teacher is trained again first."""
    output = tmp_path / "out"
    common = ["advpicker", str(output), "--encoder", str(tiny_encoder), *corpus_options(corpora), "--seeds", "0,1",
              "--selections", "source", *STEPS, "--threads", "1"]
    teachers = CliRunner().invoke(app, [*common, "--systems", "teacher"])
    assert teachers.exit_code == 0, teachers.output
    folder = output / "source_dev"
    shutil.rmtree(folder / "runs")
    students = CliRunner().invoke(app, [*common, "--systems", "teacher,student_picked"])
    assert students.exit_code == 0, students.output
    said = " ".join(students.output.split())  # the log wraps its lines
    assert said.count("without its model: training it again") == 2
    assert said.index("training it again") < said.index("pick: ")
    for seed in (0, 1):
        assert (folder / "runs" / f"teacher-seed{seed}" / "model-best").is_dir()
        assert (folder / "runs" / f"student_picked-seed{seed}" / "result.json").exists()
    results = json.loads((folder / "results.json").read_text())
    assert sorted((r["system"], r["seed"]) for r in results) == [("student_picked", 0), ("student_picked", 1), ("teacher", 0), ("teacher", 1)]


def test_lowner_es_is_the_best_student_and_tags_spanish(workflow, corpora, tmp_path):
    """package-es as project.yml runs it: best_student (the student_picked run with the best
    dev F1) built into the wheel lowner_es, which `spacy.load` finds once installed."""
    folder, _, _ = workflow
    results = [r for r in json.loads((folder / "results.json").read_text()) if r["system"] == "student_picked"]
    best = max(results, key=lambda r: r["dev_f"])
    assert (folder / "best_student").resolve() == (folder / "runs" / f"student_picked-seed{best['seed']}" / "model-best").resolve()
    built = CliRunner().invoke(spacy_lowner_app, ["package", str(folder / "best_student"), str(tmp_path / "packages"),
                                                  "--name", "lowner_es", "--version", "0.1.0", "--force"])
    assert built.exit_code == 0, built.output
    wheel = tmp_path / "packages" / "lowner_es-0.1.0" / "dist" / "lowner_es-0.1.0-py3-none-any.whl"
    site = tmp_path / "site"
    install_wheel(wheel, site)
    texts = [doc.text for doc in islice(DocBin().from_disk(corpora["test"]).get_docs(spacy.blank("es").vocab), 5)]
    check = (
        "import json, sys, spacy\n"
        "nlp = spacy.load('lowner_es')\n"
        "docs = list(nlp.pipe(json.loads(sys.argv[1])))\n"
        "print(json.dumps({'lang': nlp.lang, 'pipes': nlp.pipe_names, 'labels': sorted(nlp.get_pipe('lowner_ner').labels),\n"
        "                  'tokens': [len(doc) for doc in docs], 'ents': [e.label_ for doc in docs for e in doc.ents]}))\n"
    )
    ran = run_with(site, check, json.dumps(texts), cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    tagged = json.loads(ran.stdout.strip().splitlines()[-1])
    assert tagged["lang"] == "es" and tagged["pipes"] == ["transformer", "lowner_ner"]
    assert tagged["labels"] == ["LOC", "MISC", "ORG", "PER"]
    assert tagged["tokens"] == [len(text.split()) for text in texts]
    assert set(tagged["ents"]) <= set(tagged["labels"])
