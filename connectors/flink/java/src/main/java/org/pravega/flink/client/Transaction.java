package org.pravega.flink.client;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.apache.flink.annotation.Internal;

/**
 * The write side of one open transaction: events go to the transaction segments of the parent
 * segments the transaction was opened on (spec §1.4, §3.3), one {@link AppendSession} each.
 * Committing and aborting go through {@link ControllerClient}. Not thread-safe except
 * {@link #sendPending()}.
 */
@Internal
public final class Transaction implements AutoCloseable {
    private final ControllerClient controller;
    private final String scope;
    private final String stream;
    private final TxnId id;
    private final Router router;
    private final WriterConfig config;
    private final Map<Segment, AppendSession> sessions = new LinkedHashMap<>();
    private volatile List<AppendSession> lingerList = new ArrayList<>();
    private long events;
    private long bytes;

    public Transaction(ControllerClient controller, String scope, String stream,
                       ControllerClient.CreatedTxn created, WriterConfig config) {
        this.controller = controller;
        this.scope = scope;
        this.stream = stream;
        this.id = created.id;
        this.router = new Router(created.segments);
        this.config = config;
    }

    public TxnId getId() {
        return id;
    }

    public String getScope() {
        return scope;
    }

    public String getStream() {
        return stream;
    }

    public long getEventCount() {
        return events;
    }

    public long getByteCount() {
        return bytes;
    }

    private AppendSession session(Segment parent) {
        AppendSession s = sessions.get(parent);
        if (s == null) {
            s = new AppendSession(controller, parent, parent.getTransactionSegmentName(id), config.maxBlockBytes,
                    config.maxInflightBytes, config.timeoutMillis, config.retryBudgetMillis);
            sessions.put(parent, s);
            lingerList = new ArrayList<>(sessions.values());
        }
        return s;
    }

    public void write(String routingKey, byte[] payload) {
        double position = Router.position(routingKey);
        try {
            session(router.route(position)).append(payload, position);
        } catch (SegmentSealedException e) {
            throw gone(e);
        }
        events++;
        bytes += payload.length;
    }

    /** Sends buffered events (linger thread). */
    public void sendPending() {
        for (AppendSession s : lingerList) {
            s.sendPending();
        }
    }

    /** Waits until every event written to the transaction is durable in its segments. */
    public void flush() {
        for (AppendSession s : sessions.values()) {
            try {
                s.flush();
            } catch (SegmentSealedException e) {
                throw gone(e);
            }
        }
    }

    private TxnFailedException gone(SegmentSealedException e) {
        return new TxnFailedException("transaction " + id + " on " + scope + "/" + stream
                + " lost its segments: it was aborted (most likely its lease expired; raise the transaction"
                + " timeout)", e);
    }

    @Override
    public void close() {
        for (AppendSession s : sessions.values()) {
            s.close();
        }
        sessions.clear();
        lingerList = new ArrayList<>();
    }
}
