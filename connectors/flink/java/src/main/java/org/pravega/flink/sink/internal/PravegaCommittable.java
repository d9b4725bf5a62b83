package org.pravega.flink.sink.internal;

import java.util.Objects;

import org.apache.flink.annotation.Internal;
import org.pravega.flink.client.TxnId;

/** A flushed transaction of one subtask and checkpoint, handed from the writer to the committer. */
@Internal
public final class PravegaCommittable {
    private final String scope;
    private final String stream;
    private final TxnId txnId;
    private final String writerId;
    private final long eventCount;
    /** The writer's input watermark when the transaction was handed over (Long.MIN_VALUE: none / not noted). */
    private final long watermark;

    public PravegaCommittable(String scope, String stream, TxnId txnId, String writerId, long eventCount) {
        this(scope, stream, txnId, writerId, eventCount, Long.MIN_VALUE);
    }

    public PravegaCommittable(String scope, String stream, TxnId txnId, String writerId, long eventCount,
                              long watermark) {
        this.watermark = watermark;
        this.scope = scope;
        this.stream = stream;
        this.txnId = txnId;
        this.writerId = writerId;
        this.eventCount = eventCount;
    }

    public String getScope() {
        return scope;
    }

    public String getStream() {
        return stream;
    }

    public TxnId getTxnId() {
        return txnId;
    }

    public String getWriterId() {
        return writerId;
    }

    public long getEventCount() {
        return eventCount;
    }

    public long getWatermark() {
        return watermark;
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof PravegaCommittable)) {
            return false;
        }
        PravegaCommittable c = (PravegaCommittable) o;
        return scope.equals(c.scope) && stream.equals(c.stream) && txnId.equals(c.txnId)
                && writerId.equals(c.writerId) && eventCount == c.eventCount && watermark == c.watermark;
    }

    @Override
    public int hashCode() {
        return Objects.hash(scope, stream, txnId, writerId, eventCount, watermark);
    }

    @Override
    public String toString() {
        return "transaction " + txnId + " on " + scope + "/" + stream + " (" + eventCount + " events, writer "
                + writerId + ")";
    }
}
