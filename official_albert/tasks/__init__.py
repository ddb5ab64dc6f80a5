"""Tasks; importing this package registers every task with task_factory."""

from official_albert.tasks import pretraining  # pylint: disable=unused-import
from official_albert.tasks import sentence_prediction  # pylint: disable=unused-import
from official_albert.tasks import squad  # pylint: disable=unused-import
from official_albert.tasks import multiple_choice  # pylint: disable=unused-import
from official_albert.tasks import tagging  # pylint: disable=unused-import
