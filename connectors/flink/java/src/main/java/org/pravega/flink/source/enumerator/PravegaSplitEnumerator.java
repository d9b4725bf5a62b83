package org.pravega.flink.source.enumerator;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

import org.apache.flink.annotation.Internal;
import org.apache.flink.api.connector.source.SourceEvent;
import org.apache.flink.api.connector.source.SplitEnumerator;
import org.apache.flink.api.connector.source.SplitEnumeratorContext;
import org.apache.flink.api.connector.source.SplitsAssignment;
import org.apache.flink.util.FlinkRuntimeException;
import org.pravega.flink.client.ControllerClient;
import org.pravega.flink.client.Segment;
import org.pravega.flink.client.SegmentMetadataClient;
import org.pravega.flink.client.SegmentWithRange;
import org.pravega.flink.client.StreamCut;
import org.pravega.flink.source.PravegaSourceConfig;
import org.pravega.flink.source.StreamSpec;
import org.pravega.flink.source.enumerator.PravegaEnumeratorState.Finished;
import org.pravega.flink.source.enumerator.PravegaEnumeratorState.Pending;
import org.pravega.flink.source.event.FinishConfirmedEvent;
import org.pravega.flink.source.event.SegmentsFinishedEvent;
import org.pravega.flink.source.event.SegmentsStartedEvent;
import org.pravega.flink.source.split.PravegaSplit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Hands out segments as splits and follows the stream through scaling.
 *
 * <p><b>Protocol.</b> At the first start the enumerator resolves each stream's start (head, tail or
 * a stream cut) and, for bounded reads, its end; the start segments become pending splits, spread
 * over the readers. A reader that reads a segment to its end reports it ({@link
 * SegmentsFinishedEvent}); the enumerator asks the controller for the successors and their
 * predecessors. A successor is assigned only when <em>all</em> its predecessors are finished, so
 * every routing key is read in order. It goes to the reader that finished its predecessors (the
 * whole key range stays in one subtask, keeping per-key order through a forward pipeline); when a
 * merge joins segments finished by different readers it additionally waits until a completed
 * checkpoint records those finishes.
 *
 * <p><b>Recovery.</b> Readers keep a <em>finished marker</em> of each finished segment in their
 * checkpoints until a completed enumerator checkpoint records the finish ({@link
 * FinishConfirmedEvent}); after a restore they report the markers again, so a finish reported
 * between the enumerator's and the reader's snapshot is never lost. On a regional failover
 * ({@link #addSplitsBack}) the splits assigned since the reader's last checkpoint come back, and the
 * finishes that reader reported after the last completed checkpoint are undone (the restarted
 * reader reads those segments again), so no successor runs ahead of its predecessors.
 */
@Internal
public final class PravegaSplitEnumerator implements SplitEnumerator<PravegaSplit, PravegaEnumeratorState> {
    private static final Logger LOG = LoggerFactory.getLogger(PravegaSplitEnumerator.class);

    private final SplitEnumeratorContext<PravegaSplit> context;
    private final PravegaSourceConfig config;
    private final PravegaEnumeratorState s;
    private long lastCompleted;
    private boolean checkpointsSeen;
    /** Successor look-ups in flight: split id to a token, so stale answers are recognised. */
    private final Map<String, Long> fetching = new HashMap<>();
    private long fetchTokens;
    private final Set<String> confirmed = new HashSet<>();
    private final Set<Integer> noMoreSplitsSent = new HashSet<>();
    private ControllerClient controller;
    private volatile boolean closed;
    /** Pravega watermarks: every split handed out (see {@link SegmentsStartedEvent}); never shrinks. */
    private final Set<String> started = new java.util.LinkedHashSet<>();

    public PravegaSplitEnumerator(SplitEnumeratorContext<PravegaSplit> context, PravegaSourceConfig config,
                                  PravegaEnumeratorState restored) {
        this.context = context;
        this.config = config;
        this.s = restored == null ? new PravegaEnumeratorState() : restored;
        // A restored state belongs to a completed checkpoint: everything it records is durable.
        this.lastCompleted = restored == null ? -1 : restored.checkpointId;
        this.checkpointsSeen = restored != null;
        if (restored != null) {
            for (Finished f : s.finished.values()) {
                if (f.epoch == PravegaEnumeratorState.PENDING) {
                    f.epoch = restored.checkpointId;
                }
            }
        }
        context.metricGroup().setUnassignedSplitsGauge(() -> (long) s.pending.size());
        context.metricGroup().gauge("assignedSegments", () -> s.assigned.size());
        context.metricGroup().gauge("finishedSegments", () -> s.finished.size());
    }

    private synchronized ControllerClient controller() {
        if (closed) {
            throw new IllegalStateException("the Pravega split enumerator is closed");
        }
        if (controller == null) {
            controller = new ControllerClient(config.getControllerUri(), config.getTimeoutMillis(),
                    config.getRetryBudgetMillis());
        }
        return controller;
    }

    // -- start --------------------------------------------------------------------------------

    @Override
    public void start() {
        started.addAll(s.assigned.keySet());
        started.addAll(s.finished.keySet());
        if (!s.initialized) {
            context.callAsync(this::resolveStart, this::onStartResolved);
            return;
        }
        for (Finished f : s.finished.values()) {
            if (!f.successorsKnown) {
                fetchSuccessors(f.splitId);
            }
        }
        assignPending();
        checkDone();
    }

    /** Start splits and end cuts of every stream (runs off the coordinator thread). */
    private PravegaEnumeratorState resolveStart() {
        PravegaEnumeratorState r = new PravegaEnumeratorState();
        ControllerClient c = controller();
        try (SegmentMetadataClient meta = new SegmentMetadataClient(c, config.getTimeoutMillis())) {
            for (StreamSpec spec : config.getStreams()) {
                String scope = spec.getScope();
                String stream = spec.getStream();
                if (!c.streamExists(scope, stream)) {
                    throw new FlinkRuntimeException("Pravega stream " + spec.getScopedStream() + " does not exist");
                }
                Map<Long, Long> end = null;
                if (spec.getEndCut() != null && !spec.getEndCut().isUnbounded()) {
                    end = new TreeMap<>(spec.getEndCut().getPositions());
                } else if (config.isBounded()) {
                    List<SegmentWithRange> current = c.getCurrentSegments(scope, stream);
                    if (!current.isEmpty()) { // a sealed stream ends by itself
                        end = tail(meta, current);
                    }
                }
                if (end != null) {
                    r.endCuts.put(spec.getScopedStream(), end);
                }
                Map<Long, Long> start;
                StreamCut startCut = spec.getStartCut();
                if (startCut != null && !startCut.isUnbounded()) {
                    start = new TreeMap<>(startCut.getPositions());
                } else if (config.isStartAtTail()) {
                    List<SegmentWithRange> current = c.getCurrentSegments(scope, stream);
                    if (current.isEmpty()) {
                        throw new FlinkRuntimeException("cannot start at the tail of " + spec.getScopedStream()
                                + ": the stream is sealed");
                    }
                    start = tail(meta, current);
                } else {
                    start = new TreeMap<>();
                    for (Map.Entry<Segment, Long> e : c.getSegmentsAtHead(scope, stream).entrySet()) {
                        start.put(e.getKey().getSegmentId(), e.getValue());
                    }
                }
                for (Map.Entry<Long, Long> e : start.entrySet()) {
                    Segment seg = new Segment(scope, stream, e.getKey());
                    long endOffset = end != null && end.containsKey(e.getKey()) ? end.get(e.getKey()) : PravegaSplit.NO_END;
                    PravegaSplit split = PravegaSplit.of(seg, e.getValue(), endOffset);
                    r.pending.put(split.splitId(), new Pending(split, -1));
                }
            }
        }
        return r;
    }

    private static Map<Long, Long> tail(SegmentMetadataClient meta, List<SegmentWithRange> segments) {
        Map<Long, Long> out = new TreeMap<>();
        for (SegmentWithRange r : segments) {
            out.put(r.getSegment().getSegmentId(), meta.info(r.getSegment()).writeOffset);
        }
        return out;
    }

    private void onStartResolved(PravegaEnumeratorState resolved, Throwable error) {
        if (error != null) {
            throw new FlinkRuntimeException("cannot resolve the start of the Pravega streams "
                    + config.getStreams() + ": " + error.getMessage(), error);
        }
        if (closed || s.initialized) {
            return;
        }
        s.endCuts.putAll(resolved.endCuts);
        int parallelism = Math.max(1, context.currentParallelism());
        int i = 0;
        for (Pending p : resolved.pending.values()) {
            s.pending.put(p.split.splitId(), new Pending(p.split, i++ % parallelism));
        }
        s.initialized = true;
        LOG.info("Pravega source starts with {} segments of {}", s.pending.size(), config.getStreams());
        assignPending();
        checkDone();
    }

    // -- finishes and successors --------------------------------------------------------------

    @Override
    public void handleSourceEvent(int subtaskId, SourceEvent event) {
        if (!(event instanceof SegmentsFinishedEvent)) {
            LOG.warn("unexpected source event from reader {}: {}", subtaskId, event);
            return;
        }
        List<String> confirmNow = new ArrayList<>();
        for (String id : ((SegmentsFinishedEvent) event).getSplitIds()) {
            Finished known = s.finished.get(id);
            if (known != null) {
                if (known.epoch <= lastCompleted) {
                    confirmNow.add(id);
                }
                continue;
            }
            onFinished(id, subtaskId);
        }
        if (!confirmNow.isEmpty()) {
            context.sendEventToSourceReader(subtaskId, new FinishConfirmedEvent(confirmNow));
        }
        assignPending();
        checkDone();
    }

    private void onFinished(String id, int reader) {
        s.assigned.remove(id);
        s.pending.remove(id);
        Finished f = new Finished(id, reader, PravegaEnumeratorState.PENDING, false);
        s.finished.put(id, f);
        Segment seg = Segment.fromKey(id);
        Map<Long, Long> end = s.endCuts.get(seg.getScopedStream());
        if (end != null && end.containsKey(seg.getSegmentId())) {
            f.successorsKnown = true; // it ended at the end cut: nothing after it is read
        } else {
            fetchSuccessors(id);
        }
        LOG.debug("segment {} finished by reader {}", id, reader);
    }

    private void fetchSuccessors(String id) {
        if (fetching.containsKey(id)) {
            return;
        }
        long token = ++fetchTokens;
        fetching.put(id, token);
        Segment seg = Segment.fromKey(id);
        context.callAsync(() -> controller().getSuccessors(seg), (found, error) -> onSuccessors(id, token, found, error));
    }

    private void onSuccessors(String id, long token, Map<SegmentWithRange, List<Long>> found, Throwable error) {
        Long current = fetching.get(id);
        if (current == null || current != token) {
            return; // the finish was undone meanwhile
        }
        fetching.remove(id);
        if (error != null) {
            throw new FlinkRuntimeException("cannot get the successors of Pravega segment " + id + ": "
                    + error.getMessage(), error);
        }
        Finished f = s.finished.get(id);
        if (f == null || closed) {
            return;
        }
        Segment seg = Segment.fromKey(id);
        Map<Long, Long> end = s.endCuts.get(seg.getScopedStream());
        for (Map.Entry<SegmentWithRange, List<Long>> e : found.entrySet()) {
            Segment succ = e.getKey().getSegment();
            String sid = succ.key();
            if (s.pending.containsKey(sid) || s.assigned.containsKey(sid) || s.finished.containsKey(sid)) {
                continue;
            }
            long endOffset = end != null && end.containsKey(succ.getSegmentId())
                    ? end.get(succ.getSegmentId()) : PravegaSplit.NO_END;
            s.predecessors.put(sid, new ArrayList<>(e.getValue()));
            s.pending.put(sid, new Pending(PravegaSplit.of(succ, 0, endOffset), -1));
            LOG.info("segment {} follows {} (predecessors {})", succ, seg, e.getValue());
        }
        f.successorsKnown = true;
        assignPending();
        checkDone();
    }

    // -- assignment ---------------------------------------------------------------------------

    /** Readers of the finished predecessors, or null if one is not finished (or not durable enough). */
    private Set<Integer> predecessorReaders(String splitId) {
        List<Long> preds = s.predecessors.get(splitId);
        if (preds == null || preds.isEmpty()) {
            return Collections.emptySet();
        }
        Segment seg = Segment.fromKey(splitId);
        Set<Integer> readers = new HashSet<>();
        boolean allDurable = true;
        for (long p : preds) {
            Finished f = s.finished.get(new Segment(seg.getScope(), seg.getStream(), p).key());
            if (f == null) {
                return null;
            }
            readers.add(f.reader);
            allDurable &= f.epoch <= lastCompleted;
        }
        if (readers.size() > 1 && checkpointsSeen && !allDurable) {
            return null; // a merge across readers waits for a checkpoint recording both finishes
        }
        return readers;
    }

    private void assignPending() {
        if (!s.initialized || closed) {
            return;
        }
        Set<Integer> registered = context.registeredReaders().keySet();
        if (registered.isEmpty()) {
            return;
        }
        int parallelism = Math.max(1, context.currentParallelism());
        Map<Integer, Integer> load = new HashMap<>();
        for (int r : registered) {
            load.put(r, 0);
        }
        for (int r : s.assigned.values()) {
            load.computeIfPresent(r, (k, v) -> v + 1);
        }
        Map<Integer, List<PravegaSplit>> batch = new LinkedHashMap<>();
        for (Pending p : new ArrayList<>(s.pending.values())) {
            String id = p.split.splitId();
            Set<Integer> predReaders = predecessorReaders(id);
            if (predReaders == null) {
                continue;
            }
            int target = p.preferredReader;
            if (target < 0 && predReaders.size() == 1) {
                target = predReaders.iterator().next();
            }
            if (target >= parallelism) {
                target = -1; // that reader is gone after rescaling
            }
            if (target >= 0 && !registered.contains(target)) {
                continue; // wait for it to come back
            }
            if (target < 0) {
                target = leastLoaded(load);
            }
            s.pending.remove(id);
            s.assigned.put(id, target);
            load.merge(target, 1, Integer::sum);
            batch.computeIfAbsent(target, k -> new ArrayList<>()).add(p.split);
        }
        if (!batch.isEmpty()) {
            LOG.info("assigning Pravega splits {}", batch);
            context.assignSplits(new SplitsAssignment<>(batch));
            for (List<PravegaSplit> splits : batch.values()) {
                for (PravegaSplit split : splits) {
                    started.add(split.splitId());
                }
            }
            announceStarted(registered);
        }
    }

    /** Pravega watermarks: tells these readers every split handed out so far. */
    private void announceStarted(Set<Integer> readers) {
        if (!config.isPravegaWatermarks() || started.isEmpty()) {
            return;
        }
        SegmentsStartedEvent event = new SegmentsStartedEvent(started);
        for (int r : readers) {
            context.sendEventToSourceReader(r, event);
        }
    }

    private static int leastLoaded(Map<Integer, Integer> load) {
        int best = -1;
        int bestLoad = Integer.MAX_VALUE;
        for (Map.Entry<Integer, Integer> e : load.entrySet()) {
            if (e.getValue() < bestLoad || e.getValue() == bestLoad && e.getKey() < best) {
                best = e.getKey();
                bestLoad = e.getValue();
            }
        }
        return best;
    }

    /**
     * Once nothing is left to read — every segment read to its end cut, or to the end of its
     * sealed stream — tell every reader, so the source finishes (bounded or not).
     */
    private void checkDone() {
        if (!s.initialized || !s.pending.isEmpty() || !s.assigned.isEmpty() || !fetching.isEmpty()
                || s.finished.isEmpty() && !config.isBounded()) {
            return;
        }
        for (Finished f : s.finished.values()) {
            if (!f.successorsKnown) {
                return;
            }
        }
        for (int r : context.registeredReaders().keySet()) {
            if (noMoreSplitsSent.add(r)) {
                context.signalNoMoreSplits(r);
            }
        }
    }

    @Override
    public void handleSplitRequest(int subtaskId, String requesterHostname) {
        // Splits are pushed; nothing to do.
    }

    @Override
    public void addReader(int subtaskId) {
        noMoreSplitsSent.remove(subtaskId);
        assignPending();
        announceStarted(Collections.singleton(subtaskId));
        checkDone();
    }

    @Override
    public void addSplitsBack(List<PravegaSplit> splits, int subtaskId) {
        noMoreSplitsSent.remove(subtaskId);
        for (PravegaSplit split : splits) {
            if (split.isFinishedMarker()) {
                continue;
            }
            s.assigned.remove(split.splitId());
            s.pending.put(split.splitId(), new Pending(split, subtaskId));
        }
        // The restarted reader goes back to its last checkpoint: finishes it reported after the last
        // completed checkpoint are undone (it reads those segments again or reports them again).
        for (Finished f : new ArrayList<>(s.finished.values())) {
            if (f.reader == subtaskId && f.epoch > lastCompleted) {
                s.finished.remove(f.splitId);
                fetching.remove(f.splitId);
                confirmed.remove(f.splitId);
                if (!s.pending.containsKey(f.splitId)) {
                    s.assigned.put(f.splitId, subtaskId); // restored from the reader's checkpoint
                }
                LOG.info("reader {} failed over: segment {} counts as unfinished again", subtaskId, f.splitId);
            }
        }
        LOG.info("splits {} returned by failed reader {}", splits, subtaskId);
        assignPending();
    }

    // -- checkpoints --------------------------------------------------------------------------

    @Override
    public PravegaEnumeratorState snapshotState(long checkpointId) {
        checkpointsSeen = true;
        for (Finished f : s.finished.values()) {
            if (f.epoch == PravegaEnumeratorState.PENDING) {
                f.epoch = checkpointId;
            }
        }
        s.checkpointId = checkpointId;
        return s.copy();
    }

    @Override
    public void notifyCheckpointComplete(long checkpointId) {
        if (checkpointId <= lastCompleted) {
            return;
        }
        lastCompleted = checkpointId;
        Map<Integer, List<String>> confirm = new HashMap<>();
        for (Finished f : s.finished.values()) {
            if (f.epoch <= checkpointId && confirmed.add(f.splitId)) {
                confirm.computeIfAbsent(f.reader, k -> new ArrayList<>()).add(f.splitId);
            }
        }
        // Predecessor lists of successors whose own finish is durable are no longer needed.
        s.predecessors.keySet().removeIf(id -> {
            Finished f = s.finished.get(id);
            return f != null && f.epoch <= checkpointId;
        });
        Set<Integer> registered = context.registeredReaders().keySet();
        for (Map.Entry<Integer, List<String>> e : confirm.entrySet()) {
            if (registered.contains(e.getKey())) {
                context.sendEventToSourceReader(e.getKey(), new FinishConfirmedEvent(e.getValue()));
            }
        }
        assignPending();
        checkDone();
    }

    @Override
    public void close() {
        closed = true;
        synchronized (this) {
            if (controller != null) {
                controller.close();
                controller = null;
            }
        }
    }
}
