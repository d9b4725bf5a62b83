package org.pravega.flink.source.reader;

import org.apache.flink.annotation.Internal;

/**
 * One event as read from a segment, with the offset just after it; or a <em>tail heartbeat</em>
 * ({@link #isHeartbeat()}, no payload): the split has been waiting at its segment's tail, so the
 * task thread can re-check its watermark and idleness although no event arrives.
 */
@Internal
public final class SegmentRecord {
    final byte[] payload;
    final long offsetAfter;

    SegmentRecord(byte[] payload, long offsetAfter) {
        this.payload = payload;
        this.offsetAfter = offsetAfter;
    }

    static SegmentRecord heartbeat(long offset) {
        return new SegmentRecord(null, offset);
    }

    public boolean isHeartbeat() {
        return payload == null;
    }

    public byte[] getPayload() {
        return payload;
    }

    public long getOffsetAfter() {
        return offsetAfter;
    }
}
