package org.pravega.flink.source.split;

import org.apache.flink.annotation.Internal;
import org.pravega.flink.source.watermark.MarkFeed;
import org.pravega.flink.source.watermark.SplitWatermarks;

/** The mutable read position of a split: the offset just after the last event emitted. */
@Internal
public final class PravegaSplitState {
    private final PravegaSplit split;
    private volatile long offset;
    private final SplitWatermarks watermarks;
    /** Whether the split was marked idle (waiting at its tail, no newer watermark to reach). */
    private boolean idle;
    /** The stream's watermark records (task thread; set on first use). */
    private MarkFeed.StreamMarks marks;

    public PravegaSplitState(PravegaSplit split) {
        this.split = split;
        this.offset = split.getStartOffset();
        this.watermarks = new SplitWatermarks(split.getSegment().getSegmentId(), split.getWatermark());
    }

    /** The split's Pravega watermark (task thread only). */
    public SplitWatermarks getWatermarks() {
        return watermarks;
    }

    /** This split's stream in {@code feed} (kept, so the per-event path does no map look-up). */
    public MarkFeed.StreamMarks marksIn(MarkFeed feed) {
        if (marks == null) {
            marks = feed.marks(split.getSegment().getScopedStream());
        }
        return marks;
    }

    public boolean isIdle() {
        return idle;
    }

    public void setIdle(boolean idle) {
        this.idle = idle;
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
        return new PravegaSplit(split.getSegment(), offset, split.getEndOffset(), false, watermarks.current());
    }

    public PravegaSplit toFinishedMarker() {
        return new PravegaSplit(split.getSegment(), offset, split.getEndOffset(), true);
    }
}
