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
        // Version 2: version 1 + the split's last emitted watermark (Pravega watermarks)
        super("PravegaSplit", 2, 64);
    }

    @Override
    protected boolean reads(int version) {
        return version == 1 || version == 2;
    }

    @Override
    protected void write(PravegaSplit split, DataOutputStream out) throws IOException {
        writeSplit(split, out);
        out.writeLong(split.getWatermark());
    }

    @Override
    protected PravegaSplit read(int version, DataInputStream in) throws IOException {
        PravegaSplit split = readSplit(in);
        if (version < 2) {
            return split;
        }
        return new PravegaSplit(split.getSegment(), split.getStartOffset(), split.getEndOffset(),
                split.isFinishedMarker(), in.readLong());
    }

    /** The fields of a split but its watermark (also part of the enumerator's state). */
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
