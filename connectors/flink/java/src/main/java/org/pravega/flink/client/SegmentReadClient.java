package org.pravega.flink.client;

import java.util.concurrent.CompletableFuture;

import org.apache.flink.annotation.Internal;

/**
 * Reads one segment over its own connection (a read parked at the tail holds up every later
 * reply on its connection, so segments do not share one). At most one read is outstanding.
 */
@Internal
public final class SegmentReadClient implements AutoCloseable {
    private final ControllerClient controller;
    private final Segment segment;
    private final String name;
    private final int timeoutMillis;
    private WireConnection conn;
    private volatile boolean closed;

    public SegmentReadClient(ControllerClient controller, Segment segment, int timeoutMillis) {
        this.controller = controller;
        this.segment = segment;
        this.name = segment.getQualifiedName();
        this.timeoutMillis = timeoutMillis;
    }

    public Segment getSegment() {
        return segment;
    }

    /**
     * Asks for up to {@code length} bytes at {@code offset}. The future completes with the reply
     * (SegmentRead or an error reply) or exceptionally with a {@link RetriableException}.
     */
    public synchronized CompletableFuture<Reply> read(long offset, int length) {
        if (closed) {
            CompletableFuture<Reply> f = new CompletableFuture<>();
            f.completeExceptionally(new IllegalStateException("reader for " + name + " is closed"));
            return f;
        }
        try {
            if (conn == null || !conn.isOpen()) {
                conn = WireConnection.open(controller.getEndpoint(segment), null, timeoutMillis,
                        controller.getSecurity());
            }
        } catch (RuntimeException e) {
            CompletableFuture<Reply> f = new CompletableFuture<>();
            f.completeExceptionally(e);
            return f;
        }
        long rid = WireConnection.nextRequestId();
        String token;
        try {
            token = controller.tokenFor(name);
        } catch (RuntimeException e) {
            CompletableFuture<Reply> f = new CompletableFuture<>();
            f.completeExceptionally(e);
            return f;
        }
        return conn.call(rid, WireCommands.readSegment(name, offset, length, rid, token));
    }

    /** Drops the connection (after WrongHost or an error); the next read reconnects. */
    public synchronized void reset(boolean relocate) {
        if (relocate) {
            controller.invalidate(segment);
        }
        if (conn != null) {
            conn.close();
            conn = null;
        }
    }

    @Override
    public synchronized void close() {
        closed = true;
        if (conn != null) {
            conn.close();
            conn = null;
        }
    }
}
