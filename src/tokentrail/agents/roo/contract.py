"""The contract kit of Roo Code: Cline's task-folder format."""

from tokentrail.agents.cline.contract import TaskKit

KIT = TaskKit()
