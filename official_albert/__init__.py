"""ALBERT experiments on the TensorFlow Model Garden."""

__version__ = "0.2.0"

import os
import warnings

# Our commands print progress and one-line errors; TF's C++ start-up chatter
# ("Could not find cuda drivers", oneDNN notes) and tensorflow_hub's
# pkg_resources deprecation warning would bury them, and users cannot act on
# either. setdefault: TF_CPP_MIN_LOG_LEVEL set by the user still wins.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
