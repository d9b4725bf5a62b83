package org.pravega.flink.source.split;

import java.util.Objects;

import org.apache.flink.annotation.Internal;
import org.apache.flink.api.connector.source.SourceSplit;
import org.pravega.flink.client.Segment;

/**
 * One segment to read, from {@code startOffset} to {@code endOffset} ({@link #NO_END}: until the
 * segment is sealed and read to its end). A split is finished when its segment is read to the end
 * or to {@code endOffset}; a reader keeps a <em>finished marker</em> ({@link #isFinishedMarker()})
 * of it in its checkpoints until the enumerator's own checkpoint records the finish.
 */
@Internal
public final class PravegaSplit implements SourceSplit {
    public static final long NO_END = Long.MAX_VALUE;

    private final Segment segment;
    private final long startOffset;
    private final long endOffset;
    private final boolean finishedMarker;
    /** The last Pravega watermark the split emitted (Long.MIN_VALUE: none), so it never goes back after a restore. */
    private final long watermark;

    public PravegaSplit(Segment segment, long startOffset, long endOffset, boolean finishedMarker) {
        this(segment, startOffset, endOffset, finishedMarker, Long.MIN_VALUE);
    }

    public PravegaSplit(Segment segment, long startOffset, long endOffset, boolean finishedMarker, long watermark) {
        this.segment = Objects.requireNonNull(segment, "segment");
        this.startOffset = startOffset;
        this.endOffset = endOffset;
        this.finishedMarker = finishedMarker;
        this.watermark = watermark;
    }

    public static PravegaSplit of(Segment segment, long startOffset, long endOffset) {
        return new PravegaSplit(segment, startOffset, endOffset, false);
    }

    @Override
    public String splitId() {
        return segment.key();
    }

    public Segment getSegment() {
        return segment;
    }

    public long getStartOffset() {
        return startOffset;
    }

    public long getEndOffset() {
        return endOffset;
    }

    public boolean hasEnd() {
        return endOffset != NO_END;
    }

    public boolean isFinishedMarker() {
        return finishedMarker;
    }

    public long getWatermark() {
        return watermark;
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof PravegaSplit)) {
            return false;
        }
        PravegaSplit s = (PravegaSplit) o;
        return segment.equals(s.segment) && startOffset == s.startOffset && endOffset == s.endOffset
                && finishedMarker == s.finishedMarker && watermark == s.watermark;
    }

    @Override
    public int hashCode() {
        return Objects.hash(segment, startOffset, endOffset, finishedMarker, watermark);
    }

    @Override
    public String toString() {
        return "PravegaSplit{" + segment + " @" + startOffset + (hasEnd() ? ".." + endOffset : "")
                + (finishedMarker ? ", finished" : "") + (watermark != Long.MIN_VALUE ? ", watermark " + watermark : "")
                + "}";
    }
}
