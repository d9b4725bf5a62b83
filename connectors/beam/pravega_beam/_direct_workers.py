"""Several workers on Beam's local runner without losing what splittable reads defer.

With ``--direct_num_workers=N`` (N > 1) Beam's FnApiRunner hands a stage's input to its
``ParallelBundleManager``: the input is partitioned over N workers (threads, or SDK
processes with ``--direct_running_mode=multi_processing``), each runs a bundle, and their
responses are merged into one. In Beam up to at least 2.61 that merge keeps the monitoring
infos and the error only; the ``residual_roots`` of the responses (the remainders a
Splittable DoFn defers with ``defer_remainder``) are dropped. A read of a Pravega stream
defers every second and whenever it reaches the tail, so those Beam versions silently lose
events with more than one worker (Beam's own tests skip checkpointing with several workers).

:func:`keep_deferred_work` replaces that merge with one that also keeps every worker's
residuals, which is all that is missing: the runner already schedules residuals as the
stage's next input, partitioned over the workers again. It changes nothing when the
installed Beam merges residuals itself. ``ReadFromPravega`` calls it when it is built for a
DirectRunner with several workers.
"""

from __future__ import annotations

import inspect
import itertools
import logging
import threading
from typing import Any

log = logging.getLogger(__name__)

_lock = threading.Lock()
_MARK = "_pravega_keeps_deferred_work"


def keep_deferred_work() -> None:
    """Make the FnApiRunner's multi-worker bundles keep their residuals (idempotent).

    Raises :class:`RuntimeError` if the installed Beam's runner is not shaped as expected
    (then several workers cannot be used safely with splittable reads)."""
    try:
        from apache_beam.portability.api import beam_fn_api_pb2
        from apache_beam.runners.portability.fn_api_runner import fn_runner
        from apache_beam.utils import thread_pool_executor
    except ImportError as exc:  # pragma: no cover - depends on the installed Beam
        raise RuntimeError(f"this Beam version's local runner is not supported with several workers: {exc}") from exc
    manager = getattr(fn_runner, "ParallelBundleManager", None)
    if manager is None or not hasattr(fn_runner, "BundleManager"):
        raise RuntimeError("this Beam version's local runner has no ParallelBundleManager to run several workers")
    with _lock:
        if getattr(manager, _MARK, False):
            return
        if "residual_roots" in inspect.getsource(manager.process_bundle):
            setattr(manager, _MARK, True)  # this Beam merges residuals itself
            return
        consolidate = fn_runner.monitoring_infos.consolidate

        def process_bundle(
            self: Any,
            inputs: Any,
            expected_outputs: Any,
            fired_timers: Any,
            expected_output_timers: Any,
            dry_run: bool = False,
        ) -> Any:
            workers = self._num_workers
            parts: list[dict[str, Any]] = [{} for _ in range(workers)]
            for name, buffer in inputs.items():
                for i, part in enumerate(buffer.partition(workers)):
                    parts[i][name] = part
            timers = [fired_timers] + [{}] * (workers - 1)  # Beam runs timers on the first worker only

            def run(i: int) -> Any:
                bundles = fn_runner.BundleManager(
                    self.bundle_context_manager,
                    self._progress_frequency,
                    cache_token_generator=self._cache_token_generator,
                )
                return bundles.process_bundle(parts[i], expected_outputs, timers[i], expected_output_timers, dry_run)

            with thread_pool_executor.shared_unbounded_instance() as executor:
                results = list(executor.map(run, range(workers)))
            responses = [response for response, _ in results]
            merged = beam_fn_api_pb2.InstructionResponse(
                process_bundle=beam_fn_api_pb2.ProcessBundleResponse(
                    residual_roots=[r for x in responses for r in x.process_bundle.residual_roots],
                    monitoring_infos=consolidate(
                        itertools.chain.from_iterable(x.process_bundle.monitoring_infos for x in responses)
                    ),
                ),  # each worker's bundle was finalized by its own BundleManager already
                error=next((x.error for x in responses if x.error), ""),
            )
            return merged, [split for _, splits in results for split in splits]

        manager.process_bundle = process_bundle
        setattr(manager, _MARK, True)
        log.info("Beam's local runner now keeps the deferred work of every worker (several workers)")
