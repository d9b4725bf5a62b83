package org.pravega.flink.client;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

import org.apache.flink.annotation.Internal;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Appends events to one segment under one writer id (spec §2.5).
 *
 * <p>Events are framed (8-byte header: type 0, length) into a block buffer; a block goes out as one
 * {@code AppendBlockEnd} when it is full, when {@link #sendPending()} is called (linger) or on
 * {@link #flush()}. Several blocks may be in flight; {@code DataAppended} acknowledges cumulatively
 * by event number. After a lost connection the session reconnects with the <em>same</em> writer id:
 * {@code AppendSetup} reports the last event number the segment store holds, acknowledged blocks
 * are dropped and the rest are re-sent unchanged, so nothing is lost or duplicated.
 *
 * <p>When the segment turns out to be sealed or missing the session stops and reports
 * {@link SegmentSealedException}; its unacknowledged events can be taken with
 * {@link #drainUnacknowledged()} and re-routed by the owner. Reconnection work is done by whichever
 * thread calls in next (writer or linger thread); no thread of its own.
 */
@Internal
public final class AppendSession implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(AppendSession.class);
    public static final int MAX_EVENT_SIZE = 8 * 1024 * 1024;
    /** See {@link #getLastWriteOffset()}. */
    private volatile long lastWriteOffset;

    private enum State { NEW, READY, DISCONNECTED, SEALED, FAILED, CLOSED }

    /** An event taken back from a sealed session: its payload and routing position. */
    public static final class UnackedEvent {
        public final byte[] payload;
        public final double position;

        UnackedEvent(byte[] payload, double position) {
            this.payload = payload;
            this.position = position;
        }
    }

    private static final class Block {
        final byte[] data;
        final int length;
        final int numEvents;
        final long lastEventNumber;
        final double[] positions;

        Block(byte[] data, int length, int numEvents, long lastEventNumber, double[] positions) {
            this.data = data;
            this.length = length;
            this.numEvents = numEvents;
            this.lastEventNumber = lastEventNumber;
            this.positions = positions;
        }
    }

    private final ControllerClient controller;
    private final Segment locator;
    private final String segmentName;
    private final long writerHigh;
    private final long writerLow;
    private final int maxBlockBytes;
    private final long maxInflightBytes;
    private final int timeoutMillis;
    private final long retryBudgetMillis;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();

    private byte[] buf;
    private int bufLen;
    private int bufEvents;
    private double[] bufPositions = new double[64];
    private long nextEventNumber = 1;
    private final ArrayDeque<Block> inflight = new ArrayDeque<>();
    private long inflightBytes;
    private long eventsAcked;
    private long bytesAcked;

    private State state = State.NEW;
    private WireConnection conn;
    private RuntimeException failure;
    private long disconnectedSince;
    /** When the oldest unacknowledged block last saw progress (send or acknowledgement). */
    private long progressAt = System.currentTimeMillis();

    /**
     * @param locator the segment whose owner the controller reports (the parent of a transaction
     *     segment); {@code segmentName} is where the data goes.
     */
    public AppendSession(ControllerClient controller, Segment locator, String segmentName, int maxBlockBytes,
                         long maxInflightBytes, int timeoutMillis, long retryBudgetMillis) {
        this.controller = controller;
        this.locator = locator;
        this.segmentName = segmentName;
        UUID id = UUID.randomUUID();
        this.writerHigh = id.getMostSignificantBits();
        this.writerLow = id.getLeastSignificantBits();
        this.maxBlockBytes = maxBlockBytes;
        this.maxInflightBytes = maxInflightBytes;
        this.timeoutMillis = timeoutMillis;
        this.retryBudgetMillis = retryBudgetMillis;
        this.buf = new byte[Math.min(maxBlockBytes, 64 * 1024) + 64];
    }

    public String getSegmentName() {
        return segmentName;
    }

    public Segment getLocator() {
        return locator;
    }

    public String getWriterId() {
        return new UUID(writerHigh, writerLow).toString();
    }

    /** Events acknowledged by the segment store so far. */
    /**
     * The segment's length as of the last acknowledgement (0 before any): every event of this
     * session acknowledged so far ends at or before it.
     */
    public long getLastWriteOffset() {
        return lastWriteOffset;
    }

    public long getEventsAcked() {
        lock.lock();
        try {
            return eventsAcked;
        } finally {
            lock.unlock();
        }
    }

    public boolean isSealed() {
        lock.lock();
        try {
            return state == State.SEALED;
        } finally {
            lock.unlock();
        }
    }

    // -- writing ------------------------------------------------------------------------------

    /** Frames and buffers one event; blocks while too much data is unacknowledged. */
    public void append(byte[] payload, double position) {
        if (payload.length > MAX_EVENT_SIZE) {
            throw new IllegalArgumentException("event of " + payload.length + " bytes exceeds the maximum of "
                    + MAX_EVENT_SIZE + " bytes");
        }
        lock.lock();
        try {
            checkUsable();
            int needed = WireCommands.EVENT_HEADER + payload.length;
            if (bufLen > 0 && bufLen + needed > maxBlockBytes) {
                sendPendingLocked();
            }
            while (inflightBytes >= maxInflightBytes) {
                awaitProgressLocked();
            }
            ensureCapacity(bufLen + needed);
            WireCommands.putInt(buf, bufLen, WireCommands.EVENT_TYPE);
            WireCommands.putInt(buf, bufLen + 4, payload.length);
            System.arraycopy(payload, 0, buf, bufLen + WireCommands.EVENT_HEADER, payload.length);
            bufLen += needed;
            if (bufEvents == bufPositions.length) {
                bufPositions = java.util.Arrays.copyOf(bufPositions, bufEvents * 2);
            }
            bufPositions[bufEvents++] = position;
            if (bufLen >= maxBlockBytes) {
                sendPendingLocked();
            }
        } finally {
            lock.unlock();
        }
    }

    private void ensureCapacity(int size) {
        if (size > buf.length) {
            buf = java.util.Arrays.copyOf(buf, Math.max(size, Math.min(buf.length * 2, maxBlockBytes + 64)));
        }
    }

    /** Sends the buffered events now (the linger path); never blocks on acknowledgements. */
    public void sendPending() {
        lock.lock();
        try {
            if (bufLen > 0 && (state == State.READY || state == State.NEW || state == State.DISCONNECTED)) {
                sendPendingLocked();
            }
        } catch (RuntimeException e) {
            LOG.debug("linger send to {} failed: {}", segmentName, e.toString());
        } finally {
            lock.unlock();
        }
    }

    private void sendPendingLocked() {
        if (bufLen == 0) {
            return;
        }
        long last = nextEventNumber + bufEvents - 1;
        Block block = new Block(buf, bufLen, bufEvents, last, java.util.Arrays.copyOf(bufPositions, bufEvents));
        nextEventNumber = last + 1;
        buf = new byte[Math.min(maxBlockBytes, Math.max(64 * 1024, bufLen)) + 64];
        bufLen = 0;
        bufEvents = 0;
        if (inflight.isEmpty()) {
            progressAt = System.currentTimeMillis();
        }
        inflight.addLast(block);
        inflightBytes += block.length;
        if (state == State.READY) {
            try {
                transmit(conn, block);
            } catch (RetriableException e) {
                disconnectLocked(conn, e);
            }
        } else {
            ensureConnectedLocked();
        }
    }

    private void transmit(WireConnection c, Block block) {
        c.send(WireCommands.appendBlockEndHeader(writerHigh, writerLow, block.length), block.data, 0, block.length,
                WireCommands.appendBlockEndTrailer(block.numEvents, block.lastEventNumber,
                        WireConnection.nextRequestId()));
    }

    /** Sends everything and waits until all of it is acknowledged. */
    public void flush() {
        lock.lock();
        try {
            checkUsable();
            sendPendingLocked();
            while (!inflight.isEmpty()) {
                awaitProgressLocked();
            }
        } finally {
            lock.unlock();
        }
    }

    private void checkUsable() {
        switch (state) {
            case SEALED:
            case FAILED:
                throw failure;
            case CLOSED:
                throw new IllegalStateException("append session for " + segmentName + " is closed");
            default:
        }
    }

    /** Waits for an acknowledgement or a state change, reconnecting first if needed. */
    private void awaitProgressLocked() {
        checkUsable();
        if (state != State.READY) {
            ensureConnectedLocked();
            checkUsable();
            if (state != State.READY) {
                return;
            }
        }
        try {
            changed.await(200, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RetriableException("interrupted while waiting for acknowledgements from " + segmentName, e);
        }
        checkUsable();
        if (state == State.READY && !inflight.isEmpty()
                && System.currentTimeMillis() - progressAt > 3L * timeoutMillis) {
            // No acknowledgement for a long time: assume the connection is dead; the reconnect
            // re-synchronises with AppendSetup and re-sends what is missing.
            WireConnection stale = conn;
            disconnectLocked(stale, new RetriableException("no acknowledgement from " + segmentName + " for "
                    + (3L * timeoutMillis) + " ms"));
            stale.close();
        }
    }

    // -- connection ---------------------------------------------------------------------------

    private void ensureConnectedLocked() {
        if (state == State.READY) {
            return;
        }
        if (state != State.NEW && state != State.DISCONNECTED) {
            return;
        }
        if (disconnectedSince == 0) {
            disconnectedSince = System.currentTimeMillis();
        }
        long backoff = 20;
        while (state == State.NEW || state == State.DISCONNECTED) {
            try {
                setupLocked();
                disconnectedSince = 0;
                return;
            } catch (RetriableException e) {
                if (System.currentTimeMillis() - disconnectedSince > retryBudgetMillis) {
                    failLocked(new RetriableException("cannot append to " + segmentName + " for "
                            + retryBudgetMillis + " ms: " + e.getMessage(), e));
                    return;
                }
                LOG.debug("append session {}: {}; retrying in {} ms", segmentName, e.getMessage(), backoff);
                try {
                    changed.await(backoff, TimeUnit.MILLISECONDS);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw new RetriableException("interrupted while reconnecting to " + segmentName, ie);
                }
                backoff = Math.min(backoff * 2, 1_000);
            }
        }
    }

    /** Connects, sets the writer up, drops what the store already has and re-sends the rest. */
    private void setupLocked() {
        Endpoint ep = controller.getEndpoint(locator);
        ConnectionListener listener = new ConnectionListener();
        WireConnection bound = WireConnection.open(ep, listener, timeoutMillis, controller.getSecurity());
        listener.conn = bound;
        long rid = WireConnection.nextRequestId();
        Reply reply;
        try {
            String token = controller.tokenFor(segmentName);
            reply = bound.call(rid, WireCommands.setupAppend(rid, writerHigh, writerLow, segmentName, token))
                    .get(timeoutMillis, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            bound.close();
            throw new RetriableException("interrupted during SetupAppend", e);
        } catch (ExecutionException e) {
            bound.close();
            throw e.getCause() instanceof RetriableException ? (RetriableException) e.getCause()
                    : new RetriableException("SetupAppend failed: " + e.getCause(), e.getCause());
        } catch (TimeoutException e) {
            bound.close();
            throw new RetriableException("no reply to SetupAppend for " + segmentName);
        }
        switch (reply.type) {
            case WireCommands.APPEND_SETUP:
                break;
            case WireCommands.SEGMENT_IS_SEALED:
            case WireCommands.NO_SUCH_SEGMENT:
                bound.close();
                sealLocked(reply.type == WireCommands.NO_SUCH_SEGMENT);
                return;
            case WireCommands.WRONG_HOST:
                bound.close();
                controller.invalidate(locator);
                throw new RetriableException("wrong host for " + segmentName);
            default:
                bound.close();
                failLocked(new PravegaException("SetupAppend for " + segmentName + " failed: " + reply));
                return;
        }
        ackLocked(reply.eventNumber);
        conn = bound;
        state = State.READY;
        progressAt = System.currentTimeMillis();
        for (Block block : inflight) {
            transmit(bound, block);
        }
        changed.signalAll();
    }

    private final class ConnectionListener implements WireConnection.Listener {
        volatile WireConnection conn;

        @Override
        public void onReply(Reply reply) {
            lock.lock();
            try {
                if (conn == null || AppendSession.this.conn != conn) {
                    return; // a reply from a connection this session has already left
                }
                handleReplyLocked(conn, reply);
            } finally {
                lock.unlock();
            }
        }

        @Override
        public void onClosed(Throwable cause) {
            lock.lock();
            try {
                if (conn != null) {
                    disconnectLocked(conn, cause);
                }
            } finally {
                lock.unlock();
            }
        }
    }

    private void handleReplyLocked(WireConnection from, Reply reply) {
        switch (reply.type) {
            case WireCommands.DATA_APPENDED:
                if (reply.writerIdHigh == writerHigh && reply.writerIdLow == writerLow) {
                    if (reply.writeOffset > lastWriteOffset) {
                        lastWriteOffset = reply.writeOffset;
                    }
                    ackLocked(reply.eventNumber);
                }
                break;
            case WireCommands.SEGMENT_IS_SEALED:
            case WireCommands.NO_SUCH_SEGMENT:
                from.close();
                sealLocked(reply.type == WireCommands.NO_SUCH_SEGMENT);
                break;
            case WireCommands.WRONG_HOST:
                controller.invalidate(locator);
                disconnectLocked(from, new RetriableException("wrong host"));
                from.close();
                break;
            case WireCommands.INVALID_EVENT_NUMBER:
                // The store closes the connection; the next setup re-synchronises event numbers.
                disconnectLocked(from, new RetriableException("invalid event number"));
                from.close();
                break;
            default:
                if (reply.isError()) {
                    from.close();
                    failLocked(new PravegaException("append to " + segmentName + " failed: " + reply));
                }
        }
    }

    private void ackLocked(long eventNumber) {
        boolean progressed = false;
        while (!inflight.isEmpty() && inflight.peekFirst().lastEventNumber <= eventNumber) {
            Block b = inflight.removeFirst();
            inflightBytes -= b.length;
            eventsAcked += b.numEvents;
            bytesAcked += b.length;
            progressed = true;
        }
        if (progressed) {
            progressAt = System.currentTimeMillis();
            changed.signalAll();
        }
    }

    private void disconnectLocked(WireConnection from, Throwable cause) {
        if (from != conn || state != State.READY) {
            return;
        }
        LOG.debug("append connection for {} lost: {}", segmentName, cause.toString());
        conn = null;
        state = State.DISCONNECTED;
        disconnectedSince = System.currentTimeMillis();
        changed.signalAll();
    }

    private void sealLocked(boolean missing) {
        if (state == State.CLOSED) {
            return;
        }
        conn = null;
        state = State.SEALED;
        failure = new SegmentSealedException(segmentName, missing);
        changed.signalAll();
    }

    private void failLocked(RuntimeException e) {
        if (state == State.CLOSED) {
            return;
        }
        if (conn != null) {
            conn.close();
        }
        conn = null;
        state = State.FAILED;
        failure = e;
        changed.signalAll();
    }

    /**
     * The events not acknowledged by a sealed segment, in write order (in-flight blocks first, then
     * the buffer), with the positions they were routed by. Empties the session.
     */
    public List<UnackedEvent> drainUnacknowledged() {
        lock.lock();
        try {
            List<UnackedEvent> out = new ArrayList<>();
            for (Block b : inflight) {
                split(b.data, b.length, b.positions, out);
            }
            split(buf, bufLen, bufPositions, out);
            inflight.clear();
            inflightBytes = 0;
            bufLen = 0;
            bufEvents = 0;
            return out;
        } finally {
            lock.unlock();
        }
    }

    private static void split(byte[] data, int length, double[] positions, List<UnackedEvent> out) {
        int at = 0;
        int i = 0;
        while (at + WireCommands.EVENT_HEADER <= length) {
            int len = WireCommands.getInt(data, at + 4);
            byte[] payload = java.util.Arrays.copyOfRange(data, at + WireCommands.EVENT_HEADER,
                    at + WireCommands.EVENT_HEADER + len);
            out.add(new UnackedEvent(payload, positions[i++]));
            at += WireCommands.EVENT_HEADER + len;
        }
    }

    @Override
    public void close() {
        lock.lock();
        try {
            if (conn != null) {
                conn.close();
            }
            conn = null;
            state = State.CLOSED;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }
}
