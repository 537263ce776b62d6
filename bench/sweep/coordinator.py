"""The coordinator of a sweep: claim each run, submit it, store each result as it arrives.

The coordinator is the only writer of a sweep, whatever the executor: workers
(local processes, Dask) only compute.  Each job is claimed in the store just
before it is submitted (:mod:`bench.claims`), at most ``2 × slots`` at a time:
a run already stored is skipped, a failed one runs again in its row, one that
another live sweep (or ``bench run``) holds is left to it - this sweep waits
for it at the end and reports it -, and a stale claim (its process gone) is
taken over.  So concurrent sweeps on one store share the work and never run
one (experiment, seed) twice.  A Ctrl-C (or SIGTERM) keeps every completed
run and releases the other claims; a job whose worker died is reported as
lost and released; rerunning the same command runs only what is missing.

Faults stop a sweep in order, keeping every completed run, with exit 1 and
the cause in :attr:`SweepReport.fault`: an executor that cannot go on
(:class:`~.executors.ExecutorFault`: a Dask cluster without workers, a
scheduler that stopped answering) or a store that can no longer be written
(a full disk).  The first Ctrl-C (or SIGTERM) stops the sweep in the same
order; a second one exits 130 at once, from a watcher thread that does not
wait for the main thread: the workers are killed, the claims released when
the store answers within half a second (else the next sweep on this host
takes them over, their process being gone).

A training job (``TASK:train``) sends its curve so far as it trains; the
coordinator stores the newest one in the job's claimed row, status
``partial``, about once a second (:meth:`bench.claims.Claims.progress`), and
once more when the sweep stops, before the claims are released.  So a
stopped or killed training keeps its curve so far, and the next sweep of the
same experiment and seed takes that row over and completes it in place.
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import dataclasses
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..claims import Claim, Claims
from ..runner import failed_result, run_name, write_log
from ..session import stand_ins
from .executors import ExecutorFault, InProcess, Outcome, WorkerDied, default_jobs, execute, make_executor
from .interrupts import Interrupts
from .planning import Job, Plan
from .progress import Progress

#: Seconds between two looks at the runs another sweep holds.
POLL_S = 0.5
#: Seconds between two looks at the executor's health while jobs are outstanding.
HEALTH_S = 1.0


@dataclasses.dataclass
class SweepReport:
    """What a sweep did: stored run ids by status, skipped and lost jobs, runs a concurrent sweep did."""

    ok: list[int] = dataclasses.field(default_factory=list)
    failed: list[int] = dataclasses.field(default_factory=list)
    skipped: list[Job] = dataclasses.field(default_factory=list)
    skipped_ids: list[int] = dataclasses.field(default_factory=list)
    lost: list[tuple[Job, str]] = dataclasses.field(default_factory=list)
    interrupted: bool = False
    #: why the sweep stopped before its end (no Dask workers, the disk full, ...); None: it did not
    fault: str | None = None
    #: runs another sweep held when this one came to them; this one waited for them (ok, failed)
    elsewhere: list[int] = dataclasses.field(default_factory=list)
    elsewhere_failed: list[int] = dataclasses.field(default_factory=list)

    @property
    def run_ids(self) -> list[int]:
        """Ids of every stored run of the sweep: run now, skipped as already stored, or run by another sweep."""
        return sorted(set(self.ok + self.failed + self.skipped_ids + self.elsewhere + self.elsewhere_failed))

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        return 1 if self.fault or self.failed or self.lost or self.elsewhere_failed else 0

    def line(self) -> str:
        parts = [f"{len(self.ok)} ok", f"{len(self.failed)} failed", f"{len(self.skipped)} skipped (already stored)"]
        if self.elsewhere or self.elsewhere_failed:
            parts.append(f"{len(self.elsewhere) + len(self.elsewhere_failed)} run by a concurrent sweep "
                         f"({len(self.elsewhere_failed)} failed; waited for them)")
        if self.lost:
            parts.append(f"{len(self.lost)} lost (worker died; rerun the same command to complete them)")
        if self.interrupted:
            parts.append("interrupted (completed runs kept; rerun to resume)")
        if self.fault:
            parts.append(f"stopped: {self.fault} (completed runs kept; rerun the same command to complete the rest)")
        return ", ".join(parts)


def _split_stored(sweep: Plan, store: Any, rerun: bool, report: SweepReport) -> list[Job]:
    """The jobs still to run; those stored with status ok (same experiment and seed) go to ``report.skipped``."""
    todo = []
    for job in sweep.jobs:
        found = None if rerun else store.lookup(job.experiment, job.seed)
        if found is not None and found["status"] == "ok":
            report.skipped.append(job)
            report.skipped_ids.append(found["id"])
        else:
            todo.append(job)
    return todo


class _Recorder:
    """Stores each outcome in its claimed row (a failed one with its log), counts it in the report and progress."""

    def __init__(self, claims: Claims, report: SweepReport, progress: Progress, log_dir: Path,
                 on_outcome: Callable[[Outcome, int | None], None] | None) -> None:
        self.claims, self.report, self.progress, self.log_dir = claims, report, progress, log_dir
        self.on_outcome = on_outcome
        self._progress_error: str | None = None

    def partial(self, claim: Claim, result: Any) -> None:
        """Store a training job's curve so far in its claimed row (status ``partial``); a store that cannot
        take it now is said once and the training goes on (its final result is stored as usual)."""
        try:
            self.claims.progress(claim, result)
        except (OSError, sqlite3.Error) as exc:  # StoreError is an OSError
            if self._progress_error is None:
                self._progress_error = str(exc)
                self.progress.note(f"bench: the curve so far of a training run was not stored ({exc}); the "
                                   f"training goes on")

    def __call__(self, out: Outcome, claim: Claim) -> None:
        if out.ok:
            run_id = self.claims.complete(claim, out.result)
            self.report.ok.append(run_id)
        else:
            run_id = self._save_failed(out, claim)
            self.report.failed.append(run_id)
        self.progress.update(out, "ok" if out.ok else "failed")
        if self.on_outcome is not None:
            self.on_outcome(out, run_id)

    def _save_failed(self, out: Outcome, claim: Claim) -> int:
        job = out.job
        log = write_log(self.log_dir, run_name(job.plant, job.controller, job.task, job.settings_hash, job.seed),
                        f"{job.label}\nworker {out.worker}\n\n{out.traceback}")
        resolved = job.resolve()
        failed = failed_result(*stand_ins(resolved), job.seed, log, suite=job.suite,
                               task_name=job.task_name if job.training else None)
        failed.meta["host"] = out.worker.rsplit(":", 1)[0] or failed.meta.get("host")
        if job.experiment:  # the key and provenance the job was planned (and claimed) with
            failed.meta.update(experiment=job.experiment, provenance=json.loads(job.provenance),
                               fingerprint=job.fingerprint)
        return self.claims.complete(claim, failed, status="failed", error=out.error)

    def lost(self, job: Job, claim: Claim, exc: BaseException) -> None:
        self.claims.release(claim)
        self.report.lost.append((job, f"{type(exc).__name__}: {exc}"))
        self.progress.update(Outcome(job, error=f"lost: {type(exc).__name__}"), "lost")

    def settled(self, job: Job, claim: Claim, waited: bool) -> None:
        """A job another claimer completed: after waiting for it, or just before this sweep came to it."""
        if claim.previous == "ok" and not waited:
            self.report.skipped.append(job)
            self.report.skipped_ids.append(int(claim.run_id or 0))
        else:
            (self.report.elsewhere if claim.previous == "ok" else self.report.elsewhere_failed).append(
                int(claim.run_id or 0))
        self.progress.update(Outcome(job, error=None if claim.previous == "ok" else "failed in a concurrent sweep"),
                             "stored" if claim.previous == "ok" else "failed")


class _Loop:
    """Claims, submits and collects the jobs, at most ``limit`` in flight; waits for those others hold."""

    def __init__(self, pool: Any, record: _Recorder, claims: Claims, rerun: bool, limit: int,
                 interrupted: Callable[[], bool] = lambda: False, log: Callable[[str], None] | None = None) -> None:
        self.pool, self.record, self.claims, self.rerun, self.limit = pool, record, claims, rerun, limit
        self.interrupted = interrupted
        self.log = log
        self.inflight: dict[Any, tuple[Job, Claim]] = {}
        self.stopping = False
        #: the newest partial result of each running training job, by future (filled by the pool's thread)
        self.partials: dict[Any, Any] = {}
        self._lock = threading.Lock()
        if hasattr(pool, "on_progress"):
            pool.on_progress = self._on_progress

    def _on_progress(self, fut: Any, result: Any) -> None:
        with self._lock:
            self.partials[fut] = result

    def store_partials(self) -> None:
        """Store the newest partial result of each running training job (in this thread, the store's writer)."""
        with self._lock:
            partials, self.partials = self.partials, {}
        for fut, result in partials.items():
            held = self.inflight.get(fut)
            if held is not None:
                self.record.partial(held[1], result)

    def _resuming(self, job: Job) -> None:
        """Say that a stopped training (a partial row) is taken up again, and how."""
        how = ("from its checkpoints" if job.resumes and not job.fresh
               else f"from the start ({job.controller} does not resume a stopped training)" if not job.resumes
               else "from the start (--fresh)")
        line = f"bench: resuming the stopped training {job.label} {how}"
        (self.log or self.record.progress.note)(line)  # bench train prints it with its learners' lines

    def run(self, todo: list[Job]) -> None:
        queue = collections.deque((job, False) for job in todo)
        waiting: list[Job] = []
        while queue or self.inflight or waiting:
            if self.interrupted():  # a Ctrl-C whose KeyboardInterrupt some code swallowed
                raise KeyboardInterrupt
            while queue and len(self.inflight) < self.limit:
                job, waited = queue.popleft()
                # after waiting, whatever the other claimer stored stands (ok or failed)
                claim = self.claims.claim(job.claim_row(), rerun=self.rerun and not waited, retry_failed=not waited)
                if claim.state == "done":
                    self.record.settled(job, claim, waited)
                elif claim.state == "busy":
                    waiting.append(job)
                else:
                    if claim.previous == "partial":
                        self._resuming(job)
                    if isinstance(self.pool, InProcess):
                        self.record(execute(job, lambda result, c=claim: self.record.partial(c, result), self.log),
                                    claim)
                    else:
                        self.submit(job, claim)
            if self.inflight:
                done, _ = cf.wait(list(self.inflight), timeout=HEALTH_S, return_when=cf.FIRST_COMPLETED)
                self.store_partials()  # before the results: a finished job's last progress never follows it
                for fut in done:
                    self.collect(fut)
                self.pool.check(self.record.progress.note)  # an ExecutorFault stops the sweep
            elif waiting and not queue:
                time.sleep(POLL_S)
                queue.extend((job, True) for job in waiting)
                waiting.clear()

    def submit(self, job: Job, claim: Claim) -> None:
        try:
            fut = self.pool.submit(execute, job)
        except Exception as exc:  # an executor that refuses work: this job is lost
            self.record.lost(job, claim, exc)
            return
        self.inflight[fut] = (job, claim)

    def collect(self, fut: Any) -> None:
        """Store a finished future's outcome; a dead worker's job is lost, not failed."""
        job, claim = self.inflight.pop(fut)
        try:
            out = fut.result()
        except cf.CancelledError:
            if not self.stopping:  # cancelled elsewhere (a scheduler that went away): lost
                self.record.lost(job, claim, WorkerDied("cancelled outside this sweep (its scheduler went away?)"))
            return  # else stopped by this sweep: released with the other claims
        except Exception as exc:
            self.record.lost(job, claim, exc)
            return
        self.record(out, claim)

    def stop(self) -> None:
        """After an interrupt or a fault: stop the executor now, keep what finished meanwhile."""
        self.stopping = True
        for fut in self.inflight:
            fut.cancel()
        self.pool.close(now=True)
        try:
            self.store_partials()  # the curves so far of the trainings stopped now, before their claims end
            for fut in list(self.inflight):
                if fut.done() and not fut.cancelled() and fut.exception() is None:
                    self.collect(fut)
        except (KeyboardInterrupt, OSError):  # a store that cannot take it: released with the other claims
            pass


def run_sweep(sweep: Plan, store: Any, *, executor: str = "local", jobs: int | None = None,
              scheduler: str | None = None, client: Any = None, rerun: bool = False, quiet: bool = False,
              log_dir: str | os.PathLike | None = None, stream: Any = None,
              on_outcome: Callable[[Outcome, int | None], None] | None = None,
              log: Callable[[str], None] | None = None) -> SweepReport:
    """Run ``sweep`` and store each run as it arrives; only this process writes ``store``.

    ``executor`` is ``"local"`` (``jobs`` processes, default one per core) or
    ``"dask"`` (``scheduler`` address, or a ready ``client``).  A job already
    stored (same experiment key and seed, status ok) is skipped unless
    ``rerun`` (then it runs again in its row).  A run that raised is stored
    with status ``failed``, its error, and a log of its traceback under
    ``log_dir``.  A job whose worker died is reported as lost and not stored.
    A run another live sweep holds is waited for and reported, not run twice.
    An executor that cannot go on or a store that can no longer be written
    stops the sweep (``report.fault``, exit 1), completed runs kept.
    ``on_outcome(outcome, run_id)`` is called after each stored run.
    ``log`` receives the lines of the learners that train in this process
    (training jobs with ``jobs == 1``).
    """
    report = SweepReport()
    todo = _split_stored(sweep, store, rerun, report)
    if not todo:
        return report
    workers = jobs if jobs is not None else default_jobs()
    pool = make_executor(executor, min(workers, len(todo)), scheduler, client)
    log_path = Path(log_dir) if log_dir is not None else Path(store.path).parent / "logs"
    progress = Progress(len(todo), quiet=quiet, stream=stream)
    closed = False
    interrupts = Interrupts(pool, progress)
    try:
        with interrupts, Claims(store) as claims:  # leaving Claims releases every claim not completed
            interrupts.claims = claims
            loop = _Loop(pool, _Recorder(claims, report, progress, log_path, on_outcome), claims, rerun,
                         2 * pool.slots, lambda: interrupts.requested, log)
            try:
                loop.run(todo)
            except KeyboardInterrupt:
                report.interrupted = True
                loop.stop()
            except (ExecutorFault, OSError) as exc:  # OSError: StoreError (a full disk), a log not written
                report.fault = _cause(exc)
                loop.stop()
            else:
                pool.close()
            closed = True
            progress.close()
    finally:
        if not closed:  # an error of ctrlbench's own: never leave workers behind
            pool.close(now=True)
        progress.close()
    return report


def _cause(exc: BaseException) -> str:
    """The one-line cause of a fault."""
    import errno

    from ..errors import StoreError

    if isinstance(exc, StoreError) or not isinstance(exc, OSError):
        return str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"disk full (no space left on device) writing {exc.filename or 'a file'}"
    return f"{exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}"
