"""The reproduction of the paper's claims: experiments, training budgets, resumable sweeps, figures.

``python -m flosslab reproduce`` runs :func:`flosslab.paper.reproduce.reproduce`.
"""
