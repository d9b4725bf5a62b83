package org.pravega.flink.sink.internal;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;

import org.apache.flink.annotation.Internal;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.pravega.flink.client.TxnId;

/** Versioned serializer of {@link PravegaCommittable}. */
@Internal
public final class PravegaCommittableSerializer implements SimpleVersionedSerializer<PravegaCommittable> {
    public static final int VERSION_1 = 1;

    @Override
    public int getVersion() {
        return VERSION_1;
    }

    @Override
    public byte[] serialize(PravegaCommittable c) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(64);
        DataOutputStream out = new DataOutputStream(bytes);
        out.writeUTF(c.getScope());
        out.writeUTF(c.getStream());
        out.writeLong(c.getTxnId().getHigh());
        out.writeLong(c.getTxnId().getLow());
        out.writeUTF(c.getWriterId());
        out.writeLong(c.getEventCount());
        out.flush();
        return bytes.toByteArray();
    }

    @Override
    public PravegaCommittable deserialize(int version, byte[] serialized) throws IOException {
        if (version != VERSION_1) {
            throw new IOException("unknown Pravega committable version " + version + " (this connector reads "
                    + VERSION_1 + ")");
        }
        DataInputStream in = new DataInputStream(new ByteArrayInputStream(serialized));
        return new PravegaCommittable(in.readUTF(), in.readUTF(), new TxnId(in.readLong(), in.readLong()),
                in.readUTF(), in.readLong());
    }
}
