package org.pravega.flink.sink.internal;

import java.util.ArrayList;
import java.util.List;

import org.apache.flink.annotation.Internal;
import org.pravega.flink.client.TxnId;

/**
 * A sink writer's checkpointed state: the transactions it had open (begun, not handed to the
 * committer) when the checkpoint was taken. After a restore from that checkpoint nobody will ever
 * commit them, so the restored writer aborts them.
 */
@Internal
public final class PravegaWriterState {
    private final String scope;
    private final String stream;
    private final List<TxnId> openTransactions;

    public PravegaWriterState(String scope, String stream, List<TxnId> openTransactions) {
        this.scope = scope;
        this.stream = stream;
        this.openTransactions = new ArrayList<>(openTransactions);
    }

    public String getScope() {
        return scope;
    }

    public String getStream() {
        return stream;
    }

    public List<TxnId> getOpenTransactions() {
        return openTransactions;
    }

    @Override
    public String toString() {
        return "PravegaWriterState{" + scope + "/" + stream + ", open=" + openTransactions + "}";
    }
}
