package org.pravega.flink.sink.internal;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;

import org.apache.flink.annotation.Internal;
import org.pravega.flink.client.TxnId;
import org.pravega.flink.util.DataSerializer;

/** Versioned serializer of {@link PravegaCommittable}. */
@Internal
public final class PravegaCommittableSerializer extends DataSerializer<PravegaCommittable> {
    public PravegaCommittableSerializer() {
        // Version 1: scope, stream, transaction id (two longs), writer id, event count
        super("Pravega committable", 1, 64);
    }

    @Override
    protected void write(PravegaCommittable c, DataOutputStream out) throws IOException {
        out.writeUTF(c.getScope());
        out.writeUTF(c.getStream());
        out.writeLong(c.getTxnId().getHigh());
        out.writeLong(c.getTxnId().getLow());
        out.writeUTF(c.getWriterId());
        out.writeLong(c.getEventCount());
    }

    @Override
    protected PravegaCommittable read(int version, DataInputStream in) throws IOException {
        return new PravegaCommittable(in.readUTF(), in.readUTF(), new TxnId(in.readLong(), in.readLong()),
                in.readUTF(), in.readLong());
    }
}
