"""Metric families across processes: to JSON and back, and the sum of several containers'.

Each container process collects its own segment-store families; the supervisor asks
them at scrape time and adds them up, so ``/metrics`` of a server with containers shows
what a single process would (totals per stream, per kind, per tier; histograms with the
same buckets add bucket by bucket).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client.core import Metric

#: (sample name, sorted label pairs)
_Key = tuple[str, tuple[tuple[str, str], ...]]


def encode(families: Iterable[Metric]) -> list[dict[str, Any]]:
    return [
        {
            "name": m.name,
            "help": m.documentation,
            "type": m.type,
            "samples": [[s.name, s.labels, s.value] for s in m.samples],
        }
        for m in families
    ]


def decode(data: list[dict[str, Any]]) -> list[Metric]:
    out = []
    for item in data:
        metric = Metric(item["name"], item["help"], item["type"])
        for name, labels, value in item["samples"]:
            metric.add_sample(name, labels, value)
        out.append(metric)
    return out


def add_up(per_process: Iterable[list[Metric]]) -> list[Metric]:
    """One family per name, every sample the sum of the processes' samples with the same
    name and labels (in the order first seen)."""
    families: dict[str, tuple[Metric, dict[_Key, float], dict[_Key, dict[str, str]]]] = {}
    for metrics in per_process:
        for m in metrics:
            if m.name not in families:
                families[m.name] = (Metric(m.name, m.documentation, m.type), {}, {})
            _, sums, labels = families[m.name]
            for s in m.samples:
                key = (s.name, tuple(sorted(s.labels.items())))
                sums[key] = sums.get(key, 0.0) + s.value
                labels.setdefault(key, s.labels)
    out = []
    for metric, sums, labels in families.values():
        for key, value in sums.items():
            metric.add_sample(key[0], labels[key], value)
        out.append(metric)
    return out
