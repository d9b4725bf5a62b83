package org.pravega.flink.source.split;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;

import org.apache.flink.annotation.Internal;
import org.pravega.flink.client.Segment;
import org.pravega.flink.util.DataSerializer;

/** Versioned serializer of {@link PravegaSplit}. */
@Internal
public final class PravegaSplitSerializer extends DataSerializer<PravegaSplit> {
    public static final PravegaSplitSerializer INSTANCE = new PravegaSplitSerializer();
    public PravegaSplitSerializer() {
        // Version 1: scope, stream, segment id, start offset, end offset, finished marker
        super("PravegaSplit", 1, 64);
    }

    @Override
    protected void write(PravegaSplit split, DataOutputStream out) throws IOException {
        writeSplit(split, out);
    }

    @Override
    protected PravegaSplit read(int version, DataInputStream in) throws IOException {
        return readSplit(in);
    }

    /** The fields of a split (also part of the enumerator's state). */
    public static void writeSplit(PravegaSplit split, DataOutputStream out) throws IOException {
        out.writeUTF(split.getSegment().getScope());
        out.writeUTF(split.getSegment().getStream());
        out.writeLong(split.getSegment().getSegmentId());
        out.writeLong(split.getStartOffset());
        out.writeLong(split.getEndOffset());
        out.writeBoolean(split.isFinishedMarker());
    }

    public static PravegaSplit readSplit(DataInputStream in) throws IOException {
        Segment segment = new Segment(in.readUTF(), in.readUTF(), in.readLong());
        return new PravegaSplit(segment, in.readLong(), in.readLong(), in.readBoolean());
    }
}
