package org.pravega.flink.client;

import java.io.Serializable;

import org.apache.flink.annotation.Internal;

/** A segment and the half-open part {@code [minKey, maxKey)} of the routing-key space it owns. */
@Internal
public final class SegmentWithRange implements Serializable {
    private static final long serialVersionUID = 1L;

    private final Segment segment;
    private final double minKey;
    private final double maxKey;

    public SegmentWithRange(Segment segment, double minKey, double maxKey) {
        this.segment = segment;
        this.minKey = minKey;
        this.maxKey = maxKey;
    }

    public Segment getSegment() {
        return segment;
    }

    public double getMinKey() {
        return minKey;
    }

    public double getMaxKey() {
        return maxKey;
    }

    @Override
    public String toString() {
        return segment + "[" + minKey + ", " + maxKey + ")";
    }
}
