package org.pravega.flink.client;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import org.apache.flink.annotation.Internal;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes events to a stream outside transactions: each event goes to the active segment owning
 * its routing key, with one {@link AppendSession} (own writer id) per segment. When a segment
 * turns out sealed (the stream scaled), the writer reloads the active segments and re-routes the
 * sealed segment's unacknowledged events, in order, before accepting new ones, so per-key order
 * holds across scaling. Not thread-safe except for the internal linger thread.
 */
@Internal
public final class EventStreamWriter implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(EventStreamWriter.class);

    private final ControllerClient controller;
    private final String scope;
    private final String stream;
    private final WriterConfig config;
    private final Map<Segment, AppendSession> sessions = new LinkedHashMap<>();
    private volatile List<AppendSession> lingerList = new ArrayList<>();
    private final ScheduledExecutorService linger;
    private Router router;
    private List<SegmentWithRange> current;
    private long eventsWritten;

    public EventStreamWriter(ControllerClient controller, String scope, String stream, WriterConfig config) {
        this.controller = controller;
        this.scope = scope;
        this.stream = stream;
        this.config = config;
        this.current = activeSegments();
        this.router = new Router(current);
        this.linger = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "pravega-writer-linger-" + scope + "/" + stream);
            t.setDaemon(true);
            return t;
        });
        linger.scheduleWithFixedDelay(this::lingerTick, config.lingerMillis, config.lingerMillis,
                TimeUnit.MILLISECONDS);
    }

    private List<SegmentWithRange> activeSegments() {
        List<SegmentWithRange> current = controller.getCurrentSegments(scope, stream);
        if (current.isEmpty()) {
            throw new PravegaException("stream " + scope + "/" + stream + " is sealed (or does not exist): "
                    + "no segment accepts writes");
        }
        return current;
    }

    private void lingerTick() {
        for (AppendSession s : lingerList) {
            s.sendPending();
        }
    }

    private AppendSession session(Segment segment) {
        AppendSession s = sessions.get(segment);
        if (s == null) {
            s = new AppendSession(controller, segment, segment.getQualifiedName(), config.maxBlockBytes,
                    config.maxInflightBytes, config.timeoutMillis, config.retryBudgetMillis);
            sessions.put(segment, s);
            lingerList = new ArrayList<>(sessions.values());
        }
        return s;
    }

    /** Queues one event; {@code routingKey} null means a random segment. */
    public void write(String routingKey, byte[] payload) {
        writeAt(Router.position(routingKey), payload);
        eventsWritten++;
    }

    public long getEventsWritten() {
        return eventsWritten;
    }

    private void writeAt(double position, byte[] payload) {
        while (true) {
            AppendSession s = session(router.route(position));
            try {
                s.append(payload, position);
                return;
            } catch (SegmentSealedException e) {
                handleScale();
            }
        }
    }

    /** Waits until every event written so far is durable. */
    public void flush() {
        boolean again = true;
        while (again) {
            again = false;
            for (AppendSession s : new ArrayList<>(sessions.values())) {
                try {
                    s.flush();
                } catch (SegmentSealedException e) {
                    handleScale();
                    again = true;
                    break;
                }
            }
        }
    }

    /**
     * Where this writer's acknowledged events end in each active segment (segment id to offset;
     * 0 in segments it has not written to): after {@link #flush()}, every event written so far
     * lies before these positions. The position to note with a time for watermarks.
     */
    public Map<Long, Long> positions() {
        Map<Long, Long> out = new LinkedHashMap<>();
        for (SegmentWithRange r : current) {
            AppendSession s = sessions.get(r.getSegment());
            out.put(r.getSegment().getSegmentId(), s == null ? 0L : s.getLastWriteOffset());
        }
        return out;
    }

    /**
     * A segment was sealed: move to the current segments. Sessions of segments that are no longer
     * active are flushed (what the store already has stays) and their remaining events re-routed.
     */
    private void handleScale() {
        List<SegmentWithRange> current = activeSegments();
        this.current = current;
        Router next = new Router(current);
        Set<Segment> active = new HashSet<>();
        for (SegmentWithRange r : current) {
            active.add(r.getSegment());
        }
        List<AppendSession.UnackedEvent> moved = new ArrayList<>();
        for (Map.Entry<Segment, AppendSession> e : new ArrayList<>(sessions.entrySet())) {
            AppendSession s = e.getValue();
            if (active.contains(e.getKey()) && !s.isSealed()) {
                continue;
            }
            if (!s.isSealed()) {
                try {
                    s.flush();
                } catch (SegmentSealedException ignored) {
                    // the remaining events are re-routed below
                }
            }
            moved.addAll(s.drainUnacknowledged());
            s.close();
            sessions.remove(e.getKey());
        }
        lingerList = new ArrayList<>(sessions.values());
        router = next;
        LOG.info("stream {}/{} scaled: now {} segments; re-routing {} unacknowledged events", scope, stream,
                current.size(), moved.size());
        for (AppendSession.UnackedEvent ev : moved) {
            writeAt(ev.position, ev.payload);
        }
    }

    @Override
    public void close() {
        linger.shutdownNow();
        for (AppendSession s : sessions.values()) {
            s.close();
        }
        sessions.clear();
    }
}
