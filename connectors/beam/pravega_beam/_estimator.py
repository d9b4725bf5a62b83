"""The read's watermark estimator (private; used by ``_sdf``)."""

from __future__ import annotations

from typing import Any

from apache_beam.io.iobase import WatermarkEstimator
from apache_beam.io.watermark_estimators import WatermarkEstimatorProvider
from apache_beam.utils.timestamp import MIN_TIMESTAMP, Timestamp


class _Watermarks(WatermarkEstimator):
    """The read's output watermark. State: (watermark in µs, {segment id: latest event
    time in µs}). With processing-time stamps the watermark is the read time; with
    event times it is the least of the segments' latest event times, skipping segments
    idle (caught up, no event) for ``idle_timeout``; when every segment is idle it
    moves on to ``now - idle_timeout`` (as KafkaIO's limited-delay policy does).
    It never goes back."""

    def __init__(self, state: tuple[int, dict[int, int]] | None) -> None:
        micros, latest = state if state is not None else (MIN_TIMESTAMP.micros, {})
        self._micros = micros
        self._latest = dict(latest)

    def observe_timestamp(self, timestamp: Timestamp) -> None:
        pass  # tracked per segment by the DoFn (see observe_segment)

    def current_watermark(self) -> Timestamp:
        return Timestamp(micros=self._micros)

    def get_estimator_state(self) -> tuple[int, dict[int, int]]:
        return self._micros, dict(self._latest)

    def observe_segment(self, segment_id: int, micros: int) -> None:
        if micros > self._latest.get(segment_id, MIN_TIMESTAMP.micros):
            self._latest[segment_id] = micros

    def forget_segment(self, segment_id: int) -> None:
        self._latest.pop(segment_id, None)

    def advance_to(self, micros: int) -> None:
        if micros > self._micros:
            self._micros = micros

    def advance_event_time(
        self, active: list[int], idle: set[int], now_micros: int, idle_timeout_micros: int | None
    ) -> None:
        holds = [self._latest.get(sid, self._micros) for sid in active if sid not in idle]
        if holds:
            self.advance_to(min(holds))
        elif idle_timeout_micros is not None:
            self.advance_to(max([now_micros - idle_timeout_micros, *self._latest.values()]))


class _WatermarkProvider(WatermarkEstimatorProvider):
    def initial_estimator_state(self, element: Any, restriction: Any) -> None:
        return None

    def create_watermark_estimator(self, estimator_state: Any) -> _Watermarks:
        return _Watermarks(estimator_state)


_WATERMARKS = _WatermarkProvider()
