"""Long work (a preview's solve, a draw) runs as a job on a few worker threads; the page that
asked for it is sent to the job's page, which shows the step the work is at and reloads itself
until the work is done, then shows what it gave. No request waits on a solve, so no other user's
page does either; two draws at once are still serialised by the register."""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

from fastapi import HTTPException

from balancer.errors import BalancerError, InputError
from balancer.pipeline import PROGRESS

WORKERS = 2
"""Jobs at once: the machine's cores (more would only share them); the rest wait their turn."""
KEEP_SECONDS = 3600
"""A finished job is kept this long for its page, then forgotten."""

log = logging.getLogger(__name__)


@dataclass
class Job:
    id: str
    owner: str
    what: str
    """What the work is, for its page ("Drawing office.yaml")."""
    queued: float = field(default_factory=time.monotonic)
    started: float | None = None
    step: str | None = None
    """The step the work is at (`balancer.registry.STEPS` names, and "register")."""
    finished: float | None = None
    outcome: Any = None
    """What the work returned: the job's page shows it."""
    error: tuple[int, str] | None = None
    """The status and message the job's page answers with, when the work did not give an answer."""

    def seconds(self) -> int:
        return int(time.monotonic() - (self.started or self.queued))


class Jobs:
    def __init__(self, workers: int = WORKERS) -> None:
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="balancer-job")
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def start(self, owner: str, what: str, work: Callable[[], Any]) -> Job:
        job = Job(secrets.token_urlsafe(12), owner, what)
        with self._lock:
            self._forget_old()
            self._jobs[job.id] = job
        self._pool.submit(self._run, job, work)
        return job

    def get(self, job_id: str, owner: str) -> Job | None:
        """The job, to its owner only (None for anyone else, as for no such job)."""
        job = self._jobs.get(job_id)
        return job if job is not None and job.owner == owner else None

    def _run(self, job: Job, work: Callable[[], Any]) -> None:
        job.started = time.monotonic()
        token = PROGRESS.set(lambda step: setattr(job, "step", step))
        try:
            job.outcome = work()
        except HTTPException as e:  # what the work found missing, as a page would have said it
            job.error = (e.status_code, e.detail)
        except BalancerError as e:  # a failure outside the input (a solver, a disk): said as the CLI says it
            job.error = (500, e.message if isinstance(e, InputError) else str(e))
        except Exception as e:  # a bug of ours: the page says so. The log names the job and the kind
            # of error, not its message: messages quote ids, and a log is no place for case data.
            job.error = (500, f"internal error {type(e).__name__} — please report it (job {job.id})")
            log.error("job %s (%s) failed: %s", job.id, job.what, type(e).__name__,
                      exc_info=bool(os.environ.get("BALANCER_DEBUG")))
        finally:
            PROGRESS.reset(token)
            job.finished = time.monotonic()

    def _forget_old(self) -> None:
        now = time.monotonic()
        for jid in [j.id for j in self._jobs.values() if j.finished and now - j.finished > KEEP_SECONDS]:
            del self._jobs[jid]
