package org.pravega.flink.source.reader;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import org.apache.flink.annotation.Internal;
import org.apache.flink.api.common.eventtime.Watermark;
import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.connector.source.ReaderOutput;
import org.apache.flink.api.connector.source.SourceEvent;
import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.connector.base.source.reader.SingleThreadMultiplexSourceReaderBase;
import org.apache.flink.core.io.InputStatus;
import org.pravega.flink.client.ControllerClient;
import org.pravega.flink.client.Segment;
import org.pravega.flink.source.PravegaSourceConfig;
import org.pravega.flink.source.StreamSpec;
import org.pravega.flink.source.event.FinishConfirmedEvent;
import org.pravega.flink.source.event.SegmentsFinishedEvent;
import org.pravega.flink.source.event.SegmentsStartedEvent;
import org.pravega.flink.source.split.PravegaSplit;
import org.pravega.flink.source.split.PravegaSplitState;
import org.pravega.flink.source.watermark.MarkFeed;
import org.pravega.flink.source.watermark.MarkFollower;

/**
 * The source reader: one fetcher thread reads all assigned segments ({@link
 * PravegaSegmentSplitReader}); the task thread deserializes and emits events and keeps each split's
 * position. A finished segment is reported to the enumerator and kept as a finished marker in this
 * reader's checkpoints until the enumerator confirms that its own completed checkpoint holds the
 * finish (see {@code PravegaSplitEnumerator}).
 *
 * <p><b>Pravega watermarks</b> ({@code withPravegaWatermarks}): each reader follows the streams'
 * watermark segments itself (in its fetcher thread, about once a second; see {@code MarkFollower})
 * rather than the enumerator shipping records to the readers: a split's watermark depends on its
 * position, which only the reader knows, and one small segment read per reader and second costs
 * little. The enumerator contributes which splits it has handed out ({@code SegmentsStartedEvent}).
 * The emitter computes and emits each split's watermark through the split's output; a reader
 * without splits emits {@link MarkFeed#unheldWatermark} (see {@link #pollNext}).
 *
 * <p>Metrics (besides Flink's standard source metrics): {@code assignedSegments},
 * {@code currentOffsets} (segment=offset list), {@code unreadBytes} (also reported as
 * {@code pendingBytes}).
 */
@Internal
public final class PravegaSourceReader<T>
        extends SingleThreadMultiplexSourceReaderBase<SegmentRecord, T, PravegaSplit, PravegaSplitState> {
    private final Map<String, PravegaSplit> finishedMarkers = new LinkedHashMap<>();
    private final List<String> toReport = new ArrayList<>();
    private final Map<String, PravegaSplitState> live = new ConcurrentHashMap<>();
    private final SegmentTails tails;
    /** Null without Pravega watermarks. */
    private final MarkFeed marks;
    private final PravegaSourceConfig config;
    private boolean started;
    /** Pravega watermarks without splits: the task thread's own follower (see {@link #pollNext}). */
    private MarkFollower follower;
    private ControllerClient followerController;
    private long unheldWatermark = Long.MIN_VALUE;

    public PravegaSourceReader(SourceReaderContext context, PravegaSourceConfig config,
                               DeserializationSchema<T> schema) {
        this(context, config, schema, new SegmentTails(), config.isPravegaWatermarks() ? new MarkFeed() : null);
    }

    private PravegaSourceReader(SourceReaderContext context, PravegaSourceConfig config,
                                DeserializationSchema<T> schema, SegmentTails tails, MarkFeed marks) {
        super(() -> new PravegaSegmentSplitReader(config, tails, marks),
                new PravegaRecordEmitter<>(schema, config.getTimestampExtractor(), marks),
                context.getConfiguration(), context);
        this.tails = tails;
        this.marks = marks;
        this.config = config;
        context.metricGroup().gauge("assignedSegments", live::size);
        context.metricGroup().gauge("currentOffsets", this::currentOffsets);
        context.metricGroup().gauge("unreadBytes", this::unreadBytes);
        context.metricGroup().setPendingBytesGauge(this::unreadBytes);
    }

    private String currentOffsets() {
        StringBuilder b = new StringBuilder();
        for (Map.Entry<String, PravegaSplitState> e : live.entrySet()) {
            if (b.length() > 0) {
                b.append(',');
            }
            b.append(e.getKey()).append('=').append(e.getValue().getOffset());
        }
        return b.toString();
    }

    private long unreadBytes() {
        long total = 0;
        for (Map.Entry<String, PravegaSplitState> e : live.entrySet()) {
            Long tail = tails.get(e.getKey());
            if (tail != null) {
                total += Math.max(0, tail - e.getValue().getOffset());
            }
        }
        return total;
    }

    @Override
    public void start() {
        super.start();
        started = true;
        reportFinished();
    }

    @Override
    public void addSplits(List<PravegaSplit> splits) {
        List<PravegaSplit> readable = new ArrayList<>();
        for (PravegaSplit split : splits) {
            if (split.isFinishedMarker()) {
                // Restored from a checkpoint: the enumerator may not know yet; tell it (again).
                finishedMarkers.put(split.splitId(), split);
                toReport.add(split.splitId());
            } else {
                readable.add(split);
            }
        }
        if (!readable.isEmpty()) {
            super.addSplits(readable);
        }
        if (started) {
            reportFinished();
        }
    }

    private void reportFinished() {
        if (!toReport.isEmpty()) {
            context.sendSourceEventToCoordinator(new SegmentsFinishedEvent(toReport));
            toReport.clear();
        }
    }

    @Override
    protected void onSplitFinished(Map<String, PravegaSplitState> finishedSplitIds) {
        for (Map.Entry<String, PravegaSplitState> e : finishedSplitIds.entrySet()) {
            finishedMarkers.put(e.getKey(), e.getValue().toFinishedMarker());
            live.remove(e.getKey());
            toReport.add(e.getKey());
        }
        if (started) {
            reportFinished();
        }
    }

    @Override
    public List<PravegaSplit> snapshotState(long checkpointId) {
        List<PravegaSplit> state = new ArrayList<>(super.snapshotState(checkpointId));
        state.addAll(finishedMarkers.values());
        return state;
    }

    /**
     * Pravega watermarks: a reader without splits (more subtasks than segments, waiting for
     * successors, after a merge) emits the watermark that holds for every segment nobody holds
     * yet ({@link MarkFeed#unheldWatermark}), polling the watermark streams itself, instead of
     * going idle — an idle reader that gets a split later could not hold the job's watermark back
     * for that split's older events.
     */
    @Override
    public InputStatus pollNext(ReaderOutput<T> output) throws Exception {
        if (marks != null && live.isEmpty()) {
            emitUnheldWatermark(output);
        }
        return super.pollNext(output);
    }

    /** Without splits, wake up now and then to follow the watermark streams. */
    @Override
    public CompletableFuture<Void> isAvailable() {
        CompletableFuture<Void> base = super.isAvailable();
        if (marks == null || !live.isEmpty() || base.isDone()) {
            return base;
        }
        CompletableFuture<Void> timer = new CompletableFuture<>();
        timer.completeOnTimeout(null, config.getMarkPollMillis(), TimeUnit.MILLISECONDS);
        return base.applyToEither(timer, x -> null);
    }

    private void emitUnheldWatermark(ReaderOutput<T> output) {
        if (follower == null) {
            followerController = new ControllerClient(config.getControllerUri(), config.getTimeoutMillis(),
                    config.getRetryBudgetMillis());
            follower = new MarkFollower(followerController, marks, config.getTimeoutMillis(),
                    config.getMarkPollMillis());
        }
        List<Segment> streams = new ArrayList<>();
        for (StreamSpec spec : config.getStreams()) {
            streams.add(new Segment(spec.getScope(), spec.getStream(), 0));
        }
        follower.poll(streams);
        long w = Long.MAX_VALUE;
        for (Segment s : streams) {
            w = Math.min(w, marks.unheldWatermark(s.getScopedStream()));
        }
        if (w != Long.MIN_VALUE && w != Long.MAX_VALUE && w > unheldWatermark) {
            unheldWatermark = w;
            output.emitWatermark(new Watermark(w));
        }
    }

    @Override
    public void close() throws Exception {
        try {
            super.close();
        } finally {
            if (follower != null) {
                follower.close();
                followerController.close();
            }
        }
    }

    @Override
    public void handleSourceEvents(SourceEvent event) {
        if (event instanceof FinishConfirmedEvent) {
            for (String id : ((FinishConfirmedEvent) event).getSplitIds()) {
                finishedMarkers.remove(id);
            }
        } else if (event instanceof SegmentsStartedEvent) {
            if (marks != null) {
                Map<String, Set<Long>> byStream = new HashMap<>();
                for (String id : ((SegmentsStartedEvent) event).getSplitIds()) {
                    Segment s = Segment.fromKey(id);
                    byStream.computeIfAbsent(s.getScopedStream(), k -> new HashSet<>()).add(s.getSegmentId());
                }
                byStream.forEach(marks::addStarted);
            }
        } else {
            super.handleSourceEvents(event);
        }
    }

    @Override
    protected PravegaSplitState initializedState(PravegaSplit split) {
        PravegaSplitState state = new PravegaSplitState(split);
        live.put(split.splitId(), state);
        return state;
    }

    @Override
    protected PravegaSplit toSplitType(String splitId, PravegaSplitState state) {
        return state.toSplit();
    }
}
