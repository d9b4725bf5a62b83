package org.pravega.flink.sink.internal;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import org.apache.flink.annotation.Internal;
import org.pravega.flink.client.ControllerClient;
import org.pravega.flink.client.ControllerClient.PingStatus;
import org.pravega.flink.client.PravegaException;
import org.pravega.flink.client.TxnId;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the leases of a writer's transactions alive: the open one, and the ones handed to the
 * committer until the controller reports them committed or aborted. It pings every
 * {@code intervalMillis} (a fraction of the lease), so a transaction only expires if nobody pings
 * it for a whole lease: after the writer is gone, which the lease must outlast (checkpoint interval
 * plus restart time).
 */
@Internal
final class TransactionKeeper implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(TransactionKeeper.class);

    private final ControllerClient controller;
    private final String scope;
    private final String stream;
    private final long leaseMillis;
    private final Map<TxnId, Boolean> tracked = new ConcurrentHashMap<>();
    private final Map<TxnId, String> failed = new ConcurrentHashMap<>();
    private final ScheduledExecutorService timer;

    TransactionKeeper(ControllerClient controller, String scope, String stream, long leaseMillis, long intervalMillis) {
        this.controller = controller;
        this.scope = scope;
        this.stream = stream;
        this.leaseMillis = leaseMillis;
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "pravega-txn-keeper-" + scope + "/" + stream);
            t.setDaemon(true);
            return t;
        });
        timer.scheduleWithFixedDelay(this::pingAll, intervalMillis, intervalMillis, TimeUnit.MILLISECONDS);
    }

    void track(TxnId id) {
        tracked.put(id, Boolean.TRUE);
    }

    void untrack(TxnId id) {
        tracked.remove(id);
    }

    /** Why the transaction can no longer commit, or null. */
    String failure(TxnId id) {
        return failed.get(id);
    }

    int size() {
        return tracked.size();
    }

    private void pingAll() {
        for (TxnId id : tracked.keySet()) {
            try {
                PingStatus status = controller.pingTransaction(scope, stream, id, leaseMillis);
                switch (status) {
                    case OK:
                        break;
                    case COMMITTED:
                        tracked.remove(id);
                        break;
                    case ABORTED:
                        tracked.remove(id);
                        failed.put(id, "the controller aborted it (its lease expired?)");
                        LOG.error("transaction {} on {}/{} was aborted by the controller before it was committed;"
                                + " its events are lost unless the job fails over. Raise the transaction timeout.",
                                id, scope, stream);
                        break;
                    case UNKNOWN:
                        tracked.remove(id);
                        LOG.warn("transaction {} on {}/{} is unknown to the controller", id, scope, stream);
                        break;
                    default:
                        failed.put(id, "ping answered " + status);
                        LOG.error("pinging transaction {} on {}/{} failed: {} (lease {} ms)", id, scope, stream,
                                status, leaseMillis);
                }
            } catch (PravegaException e) {
                LOG.warn("pinging transaction {} on {}/{} failed: {}", id, scope, stream, e.getMessage());
            }
        }
    }

    @Override
    public void close() {
        timer.shutdownNow();
    }
}
