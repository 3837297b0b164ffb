"""The experiment harness: sweeps that train systems with `spacy train`, score them, and
report paired comparisons as ../shared/docs/BENCHMARKS.md asks (the same splits for every
system, paired differences with a 95% interval, a fair budget, the reader control).

It is not part of the installed package: run it from the repository root,
`python -m bench --help`. One job per module: systems (what to train), runs (one training
run, its scores and its record), sweep (the one driver of `benchmark` and `ratios`: a plan of
cells, a folder per cell), claims (a run folder claimed by the sweep training it), ratios (the
labeled-ratio splits), reports (results.json and results.md, one writer for both layouts),
best_of (best of N restarts chosen on dev), stats (paired differences), tables, plots, speed
(inference words/s), cost (training cost per update), gradients (each loss term's gradient at
the encoder output), checkpoints (the last checkpoint against the one dev picked),
self_training (a teacher's pseudo-labels).
"""
