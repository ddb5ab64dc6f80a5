"""Experiment configs; importing this package registers every experiment."""

from official_albert.configs import pretraining  # pylint: disable=unused-import
from official_albert.configs import finetuning  # pylint: disable=unused-import
from official_albert.configs import multiple_choice  # pylint: disable=unused-import
from official_albert.configs import tagging  # pylint: disable=unused-import
