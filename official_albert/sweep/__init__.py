"""Sweeps over `--params_override` on Optuna (`python -m official_albert.sweep`)."""
