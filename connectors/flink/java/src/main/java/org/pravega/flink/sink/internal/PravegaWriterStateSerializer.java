package org.pravega.flink.sink.internal;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

import org.apache.flink.annotation.Internal;
import org.pravega.flink.client.TxnId;
import org.pravega.flink.util.DataSerializer;

/** Versioned serializer of {@link PravegaWriterState}. */
@Internal
public final class PravegaWriterStateSerializer extends DataSerializer<PravegaWriterState> {
    public PravegaWriterStateSerializer() {
        // Version 1: scope, stream, the number of open transactions, then each id (two longs)
        super("Pravega writer state", 1, 64);
    }

    @Override
    protected void write(PravegaWriterState s, DataOutputStream out) throws IOException {
        out.writeUTF(s.getScope());
        out.writeUTF(s.getStream());
        out.writeInt(s.getOpenTransactions().size());
        for (TxnId id : s.getOpenTransactions()) {
            out.writeLong(id.getHigh());
            out.writeLong(id.getLow());
        }
    }

    @Override
    protected PravegaWriterState read(int version, DataInputStream in) throws IOException {
        String scope = in.readUTF();
        String stream = in.readUTF();
        int n = in.readInt();
        List<TxnId> ids = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            ids.add(new TxnId(in.readLong(), in.readLong()));
        }
        return new PravegaWriterState(scope, stream, ids);
    }
}
