"""Fitting the ranking weights on named question sets, and measuring them on others.

`python -m benchmarks.fit` (`command`: its usage and what it fits). By stage: `sets` (the named
question sets, the corpus each is asked of, a composer over their documents), `tables` (each
question's candidates and their features, and how well weights rank them), `weights` (the lexical
and re-ranking weights' search) and `declining` (every set's questions asked of every corpus, and
declining's numbers).
"""
