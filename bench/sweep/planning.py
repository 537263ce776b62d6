"""Planning a sweep: the cartesian product of names, ``--set`` value lists and seeds, checked.

:func:`plan` checks everything a user can get wrong before anything runs:
an unknown name or setting, a bad value, or an empty product is one
:class:`~bench.errors.BenchError` (exit 2); a combination that cannot work (a
task needing a capability the plant lacks, a plugin whose dependencies are
missing) is refused with one line and the rest still run.

A value that itself holds commas (a tuple setting such as ``hidden=32,32``)
is written with ``;`` inside a sweep: ``--set hidden=32;32,64;64`` sweeps the
two tuples ``(32, 32)`` and ``(64, 64)``.

A task named ``TASK:train`` (``reach:train``) makes each job a training run
(:func:`bench.session.train_run`): the learner is trained for ``TASK`` with
the job's seed and the run stored is the training itself (task
``TASK:train``, its learning curve and time-to-threshold metrics), as
``bench train`` does.  Only learners train (the others are refused); its
training settings (``train_only``) are accepted and swept.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .. import settings as _settings
from ..errors import Incompatible, SettingError, SweepError, Unavailable
from ..limits import check_count
from ..plugins import registry
from ..runner import TRAIN_SUFFIX, provenance, training_task
from ..session import Resolved, build_all, check_train_first, resolve, settings_class, stand_ins


@dataclasses.dataclass(frozen=True)
class Job:
    """One run of a sweep: everything a worker needs, as plain picklable values.

    sets : tuple of (key, value) strings
        The ``--set`` pairs of this combination, already restricted to the
        keys its components declare.
    settings_hash : str
        Hash of the full settings (defaults included), as the runner records it.
    workroot : str
        Folder under which the run gets its own working directory.
    train : bool
        Train the learner first (``--train``; :func:`bench.session.train_first`).
    training : bool
        The job is a training run (task ``TASK:train``; :func:`bench.session.train_run`); ``task`` is ``TASK``.
    fresh : bool
        A training run starts from new weights, ignoring the learner's checkpoints (``bench train --fresh``).
    resumes : bool
        The learner continues a stopped training from its checkpoints (:attr:`bench.api.Learner.RESUMES`).
    experiment : str
        The experiment key (:func:`bench.provenance.experiment_key`: names,
        settings, code version, each component's provenance).  The store holds
        one run per (experiment, seed); the coordinator claims it.
    provenance : str
        The components' provenance (JSON) the key was computed from;
        ``fingerprint`` and ``code_version`` as the runner records them.
    """

    plant: str
    controller: str
    task: str
    sets: tuple[tuple[str, str], ...]
    dt: str | None
    seed: int
    settings_hash: str
    suite: str | None = None
    workroot: str = ".bench/runs"
    train: bool = False
    experiment: str = ""
    provenance: str = "{}"
    fingerprint: str = ""
    code_version: str = ""
    training: bool = False
    fresh: bool = False
    resumes: bool = False

    @property
    def task_name(self) -> str:
        """The task the stored run records: ``TASK``, or ``TASK:train`` for a training run."""
        return f"{self.task}{TRAIN_SUFFIX}" if self.training else self.task

    def claim_row(self) -> dict[str, Any]:
        """What :meth:`bench.claims.Claims.claim` records in the pending row of this job."""
        return {"experiment": self.experiment, "seed": self.seed, "plant": self.plant, "controller": self.controller,
                "task": self.task_name, "settings_hash": self.settings_hash, "suite": self.suite,
                "provenance": json.loads(self.provenance), "fingerprint": self.fingerprint,
                "code_version": self.code_version}

    @property
    def label(self) -> str:
        extra = "".join(f" {k}={v}" for k, v in self.sets) + (f" dt={self.dt}" if self.dt else "")
        return (f"{self.plant} {self.controller} {self.task_name}{extra}{' trained' if self.train else ''} "
                f"seed {self.seed}")

    def resolve(self) -> Resolved:
        """This job's components, resolved and checked as when it was planned."""
        return resolve(self.plant, self.controller, self.task, dict(self.sets), self.dt,
                       train=self.train or self.training)


@dataclasses.dataclass
class Plan:
    """An expanded sweep: the jobs to run and the combinations refused up front."""

    jobs: list[Job]
    refused: list[str]
    combinations: int


def split_names(text: str, what: str) -> list[str]:
    """``"osc,pd"`` → ``["osc", "pd"]`` (order kept, duplicates dropped)."""
    names = list(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    if not names:
        raise SweepError(f"empty sweep: no {what} name in {text!r}")
    return names


def split_values(key: str, text: str) -> list[str]:
    """``"100,200"`` → ``["100", "200"]``; ``;`` stays inside one value (tuples)."""
    values = list(dict.fromkeys(v.strip() for v in str(text).split(",") if v.strip()))
    if not values:
        raise SweepError(f"empty sweep: --set {key}= has no value")
    return values


def _components(specs: Sequence[Any]) -> dict[str, tuple[str, type]]:
    return {s.name: (s.kind, settings_class(s)) for s in specs}


def _names(value: str | Iterable[str], what: str) -> list[str]:
    return split_names(value if isinstance(value, str) else ",".join(value), what)


def _value_lists(sets: Sequence[str] | Mapping[str, Any]) -> dict[str, list[str]]:
    """``--set`` pairs (or a mapping) as key → list of values, ``;`` turned back into commas."""
    if isinstance(sets, Mapping):
        pairs = {k: (list(map(str, v)) if isinstance(v, (list, tuple)) else split_values(k, v))
                 for k, v in sets.items()}
    else:
        pairs = {k: split_values(k, v) for k, v in _settings.parse_pairs(list(sets)).items()}
    return {k: [v.replace(";", ",") for v in vs] for k, vs in pairs.items()}


@dataclasses.dataclass
class _Triple:
    """One (plant, controller, task) that can run, the swept keys that apply to it, and whether it takes dt."""

    plant: str
    controller: str
    task: str
    keys: list[str]
    has_dt: bool
    training: bool = False
    resumes: bool = False


def _triples(plist: list[str], clist: list[str], tlist: list[str], pairs: Mapping[str, list[str]],
             refused: list[str], train: bool = False) -> list[_Triple]:
    """The runnable triples; incompatible ones (with ``train`` or a training task ``TASK:train``: a controller
    that does not learn; with ``train``: a task that trains it anyway) go to ``refused``.

    A swept key applies to the triples whose components declare it; a key
    that applies to none is an error (the first triple's message), an
    ambiguous one too.
    """
    applies: dict[str, bool] = dict.fromkeys(pairs, False)
    first_error: dict[str, SettingError] = {}
    triples = []
    for p, c, t in itertools.product(plist, clist, tlist):
        t, training = training_task(t)
        try:
            resolved = resolve(p, c, t, train=train or training, steps=False)  # dt: per combination, in _jobs
            if not training:
                check_train_first(resolved)
            specs = resolved.specs
        except (Incompatible, Unavailable) as exc:
            refused.append(str(exc))
            continue
        comps = _components(specs)
        keys = []
        for key, values in pairs.items():
            try:
                _settings.route({key: values[0]}, comps)
            except SettingError as exc:
                if "ambiguous" in str(exc):
                    raise
                first_error.setdefault(key, exc)
                continue
            keys.append(key)
            applies[key] = True
        triples.append(_Triple(p, c, t, keys, "dt" in _settings.fields(comps[specs[0].name][1]), training,
                               bool(getattr(specs[1].load(), "RESUMES", False))))
    for key, ok in applies.items():
        if triples and not ok:
            raise first_error[key]
    return triples


def _jobs(triple: _Triple, pairs: Mapping[str, list[str]], dts: list[str | None], seeds: list[int],
          suite: str | None, workroot: str, train: bool = False, fresh: bool = False) -> list[Job]:
    """Every distinct settings combination of one triple × seeds (combinations equal after defaults once).

    A combination that sets a ``train_only`` setting without ``train``, or
    whose ``dt`` does not divide the task's durations, refuses the sweep.
    """
    jobs: list[Job] = []
    seen: set[str] = set()
    for values in itertools.product(*(pairs[k] for k in triple.keys), dts if triple.has_dt else [None]):
        chosen = tuple(zip(triple.keys, values[:-1]))
        step = values[-1]
        resolved: Resolved = resolve(triple.plant, triple.controller, triple.task, dict(chosen), step,
                                     train=train or triple.training)
        meta = _identity(resolved, suite, triple.training)
        shash = meta["settings_hash"]
        if shash in seen:
            continue
        seen.add(shash)
        key = {"experiment": meta["experiment"], "provenance": json.dumps(meta["provenance"], sort_keys=True),
               "fingerprint": meta["fingerprint"], "code_version": meta["code_version"] or ""}
        jobs.extend(Job(triple.plant, triple.controller, triple.task, chosen, step, s, shash, suite, workroot, train,
                        **key, training=triple.training, fresh=fresh and triple.training, resumes=triple.resumes)
                    for s in seeds)
    return jobs


def _identity(resolved: Resolved, suite: str | None, training: bool = False) -> dict[str, Any]:
    """The settings hash, experiment key and provenance of a combination: its components built, not run
    (one whose components cannot be built gets the provenance its settings give; it fails when it runs);
    ``training``: of its training run (task ``TASK:train``)."""
    try:
        comps = build_all(resolved)
        if resolved.train:
            comps[1].trained = True  # as after bench.session.train_first: its train_only settings count
    except Exception:
        comps = stand_ins(resolved)
    task_name = f"{resolved.specs[2].name}{TRAIN_SUFFIX}" if training else None
    return provenance(*comps, 0, suite=suite, task_name=task_name)


def plan(plants: str | Iterable[str], controllers: str | Iterable[str], tasks: str | Iterable[str],
         sets: Sequence[str] | Mapping[str, Any] = (), seeds: Sequence[int] = (0,), dt: str | None = None,
         suite: str | None = None, workroot: str | os.PathLike = ".bench/runs", train: bool = False,
         fresh: bool = False) -> Plan:
    """Expand a sweep into jobs, checking names, settings and compatibility first.

    ``plants``, ``controllers``, ``tasks`` are comma lists (or lists of names);
    ``sets`` is ``["key=v1,v2", ...]`` (or a mapping of key to a comma list or
    a list of values); ``dt`` a comma list of seconds; ``train``: each
    learner is trained before its run (``--train``; combinations whose
    controller does not learn are refused).  A task ``TASK:train`` plans
    training runs (see the module docstring); ``fresh``: they start from new
    weights.  Raises
    :class:`~bench.errors.UnknownName` / :class:`SettingError` /
    :class:`SweepError` for bad input; incompatible combinations are listed in
    :attr:`Plan.refused` instead.
    """
    plist, clist, tlist = _names(plants, "plant"), _names(controllers, "controller"), _names(tasks, "task")
    reg = registry()
    for n in plist:
        reg.get_any(("plant", "dataset"), n, "plant or dataset")
    for n in clist:
        reg.get("controller", n)
    for n in tlist:
        base, training = training_task(n)
        reg.get("task", base)
        if training and train:
            raise SweepError(f"--train trains a learner before its run of a task; {n} is the training itself "
                             f"(leave --train out)")
    pairs = _value_lists(sets)
    dts: list[str | None] = list(split_values("dt", dt)) if dt is not None else [None]
    seed_list = list(dict.fromkeys(int(s) for s in seeds))
    if not seed_list:
        raise SweepError("empty sweep: no seeds")
    most = (len(plist) * len(clist) * len(tlist) * math.prod(len(v) for v in pairs.values()) * len(dts)
            * len(seed_list))  # before anything is expanded or built (bench.limits)
    check_count("sweep: plants × controllers × tasks × --set values × dt values × seeds", most, "BENCH_MAX_RUNS")
    refused: list[str] = []
    triples = _triples(plist, clist, tlist, pairs, refused, train)
    if dt is not None and triples and not any(t.has_dt for t in triples):
        raise SettingError(f"--dt: no plant in {', '.join(plist)} has a dt setting")
    jobs: list[Job] = []
    combos = 0
    for triple in triples:
        these = _jobs(triple, pairs, dts, seed_list, suite, str(workroot), train, fresh)
        jobs += these
        combos += len(these) // len(seed_list)
    if not jobs:
        why = f"every combination was refused ({len(refused)})" if refused else "the product is empty"
        raise SweepError(f"empty sweep: nothing to run; {why}")
    return Plan(jobs, refused, combos)
