"""Accuracy predictor and hardware-aware search (vectorised evolution, NSGA-II Pareto fronts)."""
