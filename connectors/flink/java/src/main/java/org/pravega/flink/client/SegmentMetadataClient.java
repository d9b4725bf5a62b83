package org.pravega.flink.client;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.apache.flink.annotation.Internal;

/** {@code GetStreamSegmentInfo} against the owning segment store, one connection per store. */
@Internal
public final class SegmentMetadataClient implements AutoCloseable {
    /** What the segment store reports about a segment. */
    public static final class Info {
        public final boolean sealed;
        public final long startOffset;
        public final long writeOffset;

        Info(boolean sealed, long startOffset, long writeOffset) {
            this.sealed = sealed;
            this.startOffset = startOffset;
            this.writeOffset = writeOffset;
        }
    }

    private final ControllerClient controller;
    private final int timeoutMillis;
    private final Map<Endpoint, WireConnection> connections = new HashMap<>();

    public SegmentMetadataClient(ControllerClient controller, int timeoutMillis) {
        this.controller = controller;
        this.timeoutMillis = timeoutMillis;
    }

    public synchronized Info info(Segment segment) {
        RetriableException last = null;
        for (int attempt = 0; attempt < 3; attempt++) {
            Endpoint ep = controller.getEndpoint(segment);
            WireConnection c = connections.get(ep);
            try {
                if (c == null || !c.isOpen()) {
                    c = WireConnection.open(ep, null, timeoutMillis, controller.getSecurity());
                    connections.put(ep, c);
                }
                long rid = WireConnection.nextRequestId();
                String name = segment.getQualifiedName();
                Reply r = c.call(rid, WireCommands.getStreamSegmentInfo(rid, name, controller.tokenFor(name)))
                        .get(timeoutMillis, TimeUnit.MILLISECONDS);
                switch (r.type) {
                    case WireCommands.STREAM_SEGMENT_INFO:
                        if (!r.exists) {
                            throw new PravegaException("segment " + segment + " does not exist");
                        }
                        return new Info(r.sealed, r.startOffset, r.writeOffset);
                    case WireCommands.WRONG_HOST:
                        controller.invalidate(segment);
                        last = new RetriableException("wrong host for " + segment);
                        continue;
                    case WireCommands.NO_SUCH_SEGMENT:
                        throw new PravegaException("segment " + segment + " does not exist");
                    default:
                        throw new PravegaException("GetStreamSegmentInfo(" + segment + ") failed: " + r);
                }
            } catch (ExecutionException e) {
                last = e.getCause() instanceof RetriableException ? (RetriableException) e.getCause()
                        : new RetriableException(String.valueOf(e.getCause()), e.getCause());
                connections.remove(ep);
            } catch (TimeoutException e) {
                last = new RetriableException("no reply to GetStreamSegmentInfo(" + segment + ")");
                c.close();
                connections.remove(ep);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new RetriableException("interrupted", e);
            } catch (RetriableException e) {
                last = e;
                connections.remove(ep);
            }
        }
        throw last;
    }

    @Override
    public synchronized void close() {
        for (WireConnection c : connections.values()) {
            c.close();
        }
        connections.clear();
    }
}
