"""Checkpoint interop: HuggingFace, original TF1, Model Garden and ours.

Every format converts to and from one interchange layout, the original TF1
variable names (`layout`); `convert` is the command-line front end.
"""
