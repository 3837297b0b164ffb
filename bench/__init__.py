"""The experiment harness: sweeps that train systems with `spacy train`, score them, and
report paired comparisons as ../shared/docs/BENCHMARKS.md asks (the same splits for every
system, paired differences with a 95% interval, a fair budget, the reader control).

It is not part of the installed package: run it from the repository root,
`python -m bench --help`. One job per module: systems (what to train), runs (one training
run and its scores), stats (paired differences), tables, plots, sweep (full-data
benchmark), speed (inference words/s), ratios (the labeled-ratio benchmark), cost (training
cost per update), gradients (each loss term's gradient at the encoder output).
"""
