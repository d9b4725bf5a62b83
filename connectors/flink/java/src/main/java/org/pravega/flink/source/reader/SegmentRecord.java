package org.pravega.flink.source.reader;

import org.apache.flink.annotation.Internal;

/** One event as read from a segment, with the offset just after it. */
@Internal
public final class SegmentRecord {
    final byte[] payload;
    final long offsetAfter;

    SegmentRecord(byte[] payload, long offsetAfter) {
        this.payload = payload;
        this.offsetAfter = offsetAfter;
    }

    public byte[] getPayload() {
        return payload;
    }

    public long getOffsetAfter() {
        return offsetAfter;
    }
}
