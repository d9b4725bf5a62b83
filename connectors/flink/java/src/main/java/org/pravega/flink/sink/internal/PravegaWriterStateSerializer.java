package org.pravega.flink.sink.internal;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

import org.apache.flink.annotation.Internal;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.pravega.flink.client.TxnId;

/** Versioned serializer of {@link PravegaWriterState}. */
@Internal
public final class PravegaWriterStateSerializer implements SimpleVersionedSerializer<PravegaWriterState> {
    public static final int VERSION_1 = 1;

    @Override
    public int getVersion() {
        return VERSION_1;
    }

    @Override
    public byte[] serialize(PravegaWriterState s) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(64);
        DataOutputStream out = new DataOutputStream(bytes);
        out.writeUTF(s.getScope());
        out.writeUTF(s.getStream());
        out.writeInt(s.getOpenTransactions().size());
        for (TxnId id : s.getOpenTransactions()) {
            out.writeLong(id.getHigh());
            out.writeLong(id.getLow());
        }
        out.flush();
        return bytes.toByteArray();
    }

    @Override
    public PravegaWriterState deserialize(int version, byte[] serialized) throws IOException {
        if (version != VERSION_1) {
            throw new IOException("unknown Pravega writer state version " + version + " (this connector reads "
                    + VERSION_1 + ")");
        }
        DataInputStream in = new DataInputStream(new ByteArrayInputStream(serialized));
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
