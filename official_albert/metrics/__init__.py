"""Dev-set metrics: GLUE (scikit-learn/scipy) and SQuAD (official scripts)."""
