"""One module per Asana stream; `ALL_STREAMS` is the order they sync in.

Projects come before sections and tasks, and tasks before subtasks and
stories, so each listing one of them makes is reused by the next (see
shared_listings.py).
"""

from tap_asana.streams.projects import ProjectsStream
from tap_asana.streams.sections import SectionsStream
from tap_asana.streams.stories import StoriesStream
from tap_asana.streams.subtasks import SubtasksStream
from tap_asana.streams.tags import TagsStream
from tap_asana.streams.tasks import TasksStream
from tap_asana.streams.teams import TeamsStream
from tap_asana.streams.users import UsersStream
from tap_asana.streams.workspaces import WorkspacesStream

ALL_STREAMS = (
    WorkspacesStream,
    ProjectsStream,
    SectionsStream,
    TagsStream,
    TasksStream,
    SubtasksStream,
    StoriesStream,
    TeamsStream,
    UsersStream,
)

__all__ = ["ALL_STREAMS"]
