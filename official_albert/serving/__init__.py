"""Serving: SavedModel export (`export`) and batch prediction (`predict`)."""
