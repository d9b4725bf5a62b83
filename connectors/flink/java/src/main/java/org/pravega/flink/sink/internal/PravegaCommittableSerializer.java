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
        // Version 2: version 1 + the watermark to note after the commit
        super("Pravega committable", 2, 64);
    }

    @Override
    protected boolean reads(int version) {
        return version == 1 || version == 2;
    }

    @Override
    protected void write(PravegaCommittable c, DataOutputStream out) throws IOException {
        out.writeUTF(c.getScope());
        out.writeUTF(c.getStream());
        out.writeLong(c.getTxnId().getHigh());
        out.writeLong(c.getTxnId().getLow());
        out.writeUTF(c.getWriterId());
        out.writeLong(c.getEventCount());
        out.writeLong(c.getWatermark());
    }

    @Override
    protected PravegaCommittable read(int version, DataInputStream in) throws IOException {
        PravegaCommittable c = new PravegaCommittable(in.readUTF(), in.readUTF(),
                new TxnId(in.readLong(), in.readLong()), in.readUTF(), in.readLong());
        if (version < 2) {
            return c;
        }
        return new PravegaCommittable(c.getScope(), c.getStream(), c.getTxnId(), c.getWriterId(), c.getEventCount(),
                in.readLong());
    }
}
