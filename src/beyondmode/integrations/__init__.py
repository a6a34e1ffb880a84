"""Adapters for the distributed training engines users already run (verl on Ray; TRL lives in `train`).

Every adapter scores through `beyondmode.scoring.Scorer`, so a completion earns the same reward terms
whichever engine trains on it.
"""
