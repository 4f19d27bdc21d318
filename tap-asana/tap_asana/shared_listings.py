"""What several streams need to know, listed once per run and shared.

Sections and tasks both iterate over projects, stories over tasks; whichever
stream runs first pays for the listing and the others reuse it, so a run
never fetches the same list twice. Lists of gids (and the compact task index,
see task_index.py) only: records themselves are streamed, never held.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta

from tap_asana import timestamps
from tap_asana.concurrency import FULL_RECORD_WORKERS, merge_parallel
from tap_asana.first_pages import FirstPages, Request
from tap_asana.http.client import AsanaClient, Page
from tap_asana.http.errors import Forbidden, NotFound
from tap_asana.http.pagination import first_page_query, paginate
from tap_asana.streams.not_found import skip_if_deleted, workspace_must_exist
from tap_asana.task_index import IndexedTask

# Without Asana's clock (no Date header) assume ours may be this far ahead.
CLOCK_SKEW_ALLOWANCE = timedelta(minutes=5)

# First pages asked ahead for later streams while the tasks are listed (see
# `read_ahead`): each is held until its stream reads it, so this many pages
# (of a task's stories: 100 at most, usually a handful) is the memory it
# may cost; at 17 in flight (concurrency 25) and 150 ms it covers about
# 1.3 s of listing.
READ_AHEAD_PAGES = 150

# A task's first request in a later stream (None: that stream won't read it).
TaskRequest = Callable[[str, str], Request | None]


class SharedListings:
    """The run's lists of workspaces, projects and tasks, its task index and
    its single-task lookups, each fetched the first time a stream asks."""

    def __init__(
        self,
        client: AsanaClient,
        *,
        workspace_gid: str | None,
        page_size: int,
        concurrency: int,
    ) -> None:
        self._client = client
        # Enough for the small streams' five first requests at once; beyond
        # that, requests made ahead leave the task listings their slots.
        self._first_pages = FirstPages(client, workers=max(5, concurrency - FULL_RECORD_WORKERS))
        self._read_ahead: list[TaskRequest] = []
        self._read_ahead_left = READ_AHEAD_PAGES
        self._configured_workspace = workspace_gid
        self._page_size = page_size
        self._concurrency = concurrency
        self._workspaces: list[str] | None = None
        self._projects: dict[str, list[str]] = {}
        self._projects_listed_at: dict[str, datetime | None] = {}
        self._all_tasks: dict[str, list[str]] = {}
        self._index: dict[str, dict[str, IndexedTask]] = {}
        self._looked_up: dict[str, tuple[set[str], dict | None]] = {}

    def listing(
        self,
        path: str,
        params: dict | None = None,
        opt_fields: Iterable[str] = (),
        on_page: Callable[[Page], None] | None = None,
    ) -> Iterator[dict]:
        """A paginated listing with this run's page size (not remembered: each
        call pages through Asana again)."""
        return paginate(
            self._first_pages,
            path,
            params=params,
            opt_fields=opt_fields,
            page_size=self._page_size,
            on_page=on_page,
        )

    def get(self, path: str, params: dict | None = None) -> Page:
        """One request (a single object), answered by a prefetched page if any."""
        return self._first_pages.get(path, params)

    # First pages, all at once ----------------------------------------------
    def listing_request(self, path: str, params: dict | None = None, opt_fields: Iterable[str] = ()) -> Request:
        """The first request `listing` will make for these arguments."""
        return path, first_page_query(params, opt_fields, self._page_size)

    def prefetch(self, requests: Iterable[Request]) -> None:
        """Send these first requests now, together (see first_pages.py)."""
        self._first_pages.prefetch(requests)

    def read_ahead(self, first_request: TaskRequest) -> None:
        """Have a later stream's first request for a task (its stories) sent
        as soon as a complete task listing of the run lists that task.

        singer-sdk syncs one stream after another, so the stories stream
        would only start once every project's tasks are listed; the first
        tasks' stories are asked for meanwhile, in the order that stream
        will read them, up to READ_AHEAD_PAGES for the run. Same requests,
        each made once: the stream finds its answer waiting."""
        self._read_ahead.append(first_request)

    def task_listed(self, workspace_gid: str, task_gid: str) -> None:
        """Called by a complete listing of the workspace's tasks for each task,
        once, in the order it remembers them (remember_all_tasks)."""
        for first_request in self._read_ahead:
            if self._read_ahead_left <= 0:
                return
            request = first_request(workspace_gid, task_gid)
            if request is not None:
                self._read_ahead_left -= 1
                self._first_pages.prefetch([request])

    def close(self) -> None:
        self._first_pages.close()

    # Workspaces -------------------------------------------------------
    def configured_workspace_gids(self) -> list[str]:
        """The workspace the config names, if it names one: known before any request."""
        return [self._configured_workspace] if self._configured_workspace else []

    def workspace_gids(self) -> list[str]:
        if self._configured_workspace:
            return [self._configured_workspace]
        if self._workspaces is None:
            self.remember_workspaces(
                [w["gid"] for w in self.listing("/workspaces", opt_fields=("gid",))]
            )
        return list(self._workspaces or [])

    def remember_workspaces(self, gids: list[str]) -> None:
        self._workspaces = gids

    # Projects ---------------------------------------------------------
    def project_gids(self, workspace_gid: str) -> list[str]:
        if workspace_gid not in self._projects:
            listed_at: list[datetime | None] = []

            def first_page_time(page: Page) -> None:
                if not listed_at:
                    listed_at.append(page.server_time)

            gids = [
                p["gid"]
                for p in self.listing(
                    f"/workspaces/{workspace_gid}/projects",
                    opt_fields=("gid",),
                    on_page=first_page_time,
                )
            ]
            self.remember_projects(workspace_gid, gids, listed_at[0] if listed_at else None)
        return self._projects[workspace_gid]

    def projects_listed_at(self, workspace_gid: str) -> datetime | None:
        """Asana's clock when the project list was taken (None if unknown)."""
        self.project_gids(workspace_gid)
        return self._projects_listed_at.get(workspace_gid)

    def watermark(self, run_started_at: datetime) -> str:
        """A safe next `modified_since`: Asana's clock before any task listing.

        Taken as the moment the project lists were read. Every task listing
        of this run starts later, so anything changed after this instant is
        seen by the next run, whatever order projects were read in.
        """
        listed_at: list[datetime] = []
        for gid in self.workspace_gids():
            with workspace_must_exist(gid):
                moment = self.projects_listed_at(gid)
            if moment is None:
                break
            listed_at.append(moment)
        else:
            if listed_at:
                return timestamps.to_asana(min(listed_at))
        return timestamps.to_asana(run_started_at - CLOCK_SKEW_ALLOWANCE)

    def remember_projects(
        self, workspace_gid: str, gids: list[str], listed_at: datetime | None
    ) -> None:
        self._projects[workspace_gid] = gids
        self._projects_listed_at[workspace_gid] = listed_at

    # Tasks ------------------------------------------------------------
    def task_gids(self, workspace_gid: str) -> Iterator[str]:
        """Each task reachable through the workspace's projects, once."""
        if workspace_gid in self._all_tasks:
            yield from self._all_tasks[workspace_gid]
            return

        def project_task_gids(project_gid: str) -> Iterator[str]:
            for task in self.listing("/tasks", {"project": project_gid}, opt_fields=("gid",)):
                yield task["gid"]

        seen: set[str] = set()
        projects = self.project_gids(workspace_gid)
        for gid in merge_parallel(project_task_gids, projects, self._concurrency):
            if gid not in seen:
                seen.add(gid)
                yield gid

    def remember_all_tasks(self, workspace_gid: str, gids: list[str]) -> None:
        """Every task gid of the workspace, from a full task listing or the
        index just taken, so stories need not list them again."""
        self._all_tasks.setdefault(workspace_gid, gids)

    # The task index ----------------------------------------------------
    @staticmethod
    def _index_key(workspace_gid: str, opt_fields: list[str]) -> str:
        return f"{workspace_gid}?{','.join(opt_fields)}"  # fingerprints depend on the fields

    def task_index(self, workspace_gid: str, opt_fields: list[str]) -> dict[str, IndexedTask]:
        """Every task in the workspace's projects now: gid -> IndexedTask."""
        key = self._index_key(workspace_gid, opt_fields)
        if key not in self._index:
            def entries(project_gid: str) -> Iterator[tuple[str, dict]]:
                for task in self.listing("/tasks", {"project": project_gid}, opt_fields=opt_fields):
                    yield project_gid, task

            index: dict[str, IndexedTask] = {}
            with workspace_must_exist(workspace_gid):
                projects = self.project_gids(workspace_gid)
            fetch = skip_if_deleted("project", entries)
            for project_gid, task in merge_parallel(fetch, projects, self._concurrency):
                entry = index.get(task["gid"])
                if entry is None:
                    entry = index[task["gid"]] = IndexedTask.of(task)
                entry.projects.append(project_gid)
            self._index[key] = index
            self.remember_all_tasks(workspace_gid, list(index))
        return self._index[key]

    def remember_task_index(self, workspace_gid: str, opt_fields: list[str], index: dict[str, IndexedTask]) -> None:
        """Called after a complete listing of every project's tasks with (at
        least) opt_fields: the same index task_index would list again."""
        self._index.setdefault(self._index_key(workspace_gid, opt_fields), index)

    def look_up_task(self, gid: str, opt_fields: list[str], *, fresh: bool = False) -> dict | None:
        """GET /tasks/{gid}: the task now, or None when Asana no longer has it
        (or the token may no longer see it).
        Asked once per run when an earlier lookup had the fields, unless
        fresh: a stream that took its starting point (a sync token) after an
        earlier stream's lookup must not be answered from before it."""
        cached = None if fresh else self._looked_up.get(gid)
        if cached is not None and (cached[1] is None or set(opt_fields) <= cached[0]):
            return cached[1]
        try:
            page = self._client.get(f"/tasks/{gid}", {"opt_fields": ",".join(opt_fields)})
            task = page.data if isinstance(page.data, dict) else None
        except (NotFound, Forbidden):
            # Deleted, or no longer visible to the token (e.g. its user left
            # the private project): either way not in this workspace's copy.
            task = None
        self._looked_up[gid] = (set(opt_fields), task)
        return task

    def still_listed(self, task: dict | None, workspace_gid: str) -> bool:
        """Whether a looked-up task is in one of the projects this run lists."""
        if not task:
            return False
        listed = set(self.project_gids(workspace_gid))
        return any(p.get("gid") in listed for p in task.get("projects") or [] if isinstance(p, dict))
