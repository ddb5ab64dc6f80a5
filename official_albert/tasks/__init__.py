"""Tasks; importing this package registers every task with task_factory."""

from official_albert.tasks import pretraining  # pylint: disable=unused-import
