package org.pravega.flink.source.split;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;

import org.apache.flink.annotation.Internal;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.pravega.flink.client.Segment;

/** Versioned serializer of {@link PravegaSplit}. */
@Internal
public final class PravegaSplitSerializer implements SimpleVersionedSerializer<PravegaSplit> {
    public static final PravegaSplitSerializer INSTANCE = new PravegaSplitSerializer();
    public static final int VERSION_1 = 1;

    @Override
    public int getVersion() {
        return VERSION_1;
    }

    @Override
    public byte[] serialize(PravegaSplit split) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(64);
        DataOutputStream out = new DataOutputStream(bytes);
        write(split, out);
        out.flush();
        return bytes.toByteArray();
    }

    public static void write(PravegaSplit split, DataOutputStream out) throws IOException {
        out.writeUTF(split.getSegment().getScope());
        out.writeUTF(split.getSegment().getStream());
        out.writeLong(split.getSegment().getSegmentId());
        out.writeLong(split.getStartOffset());
        out.writeLong(split.getEndOffset());
        out.writeBoolean(split.isFinishedMarker());
    }

    public static PravegaSplit read(DataInputStream in) throws IOException {
        Segment segment = new Segment(in.readUTF(), in.readUTF(), in.readLong());
        return new PravegaSplit(segment, in.readLong(), in.readLong(), in.readBoolean());
    }

    @Override
    public PravegaSplit deserialize(int version, byte[] serialized) throws IOException {
        if (version != VERSION_1) {
            throw new IOException("unknown PravegaSplit serializer version " + version
                    + " (this connector reads version " + VERSION_1 + ")");
        }
        return read(new DataInputStream(new ByteArrayInputStream(serialized)));
    }
}
