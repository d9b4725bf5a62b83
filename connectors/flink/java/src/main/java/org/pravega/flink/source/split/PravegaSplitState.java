package org.pravega.flink.source.split;

import org.apache.flink.annotation.Internal;

/** The mutable read position of a split: the offset just after the last event emitted. */
@Internal
public final class PravegaSplitState {
    private final PravegaSplit split;
    private volatile long offset;

    public PravegaSplitState(PravegaSplit split) {
        this.split = split;
        this.offset = split.getStartOffset();
    }

    public long getOffset() {
        return offset;
    }

    public void setOffset(long offset) {
        this.offset = offset;
    }

    public PravegaSplit getSplit() {
        return split;
    }

    public PravegaSplit toSplit() {
        return PravegaSplit.of(split.getSegment(), offset, split.getEndOffset());
    }

    public PravegaSplit toFinishedMarker() {
        return new PravegaSplit(split.getSegment(), offset, split.getEndOffset(), true);
    }
}
