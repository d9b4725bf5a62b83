package org.pravega.flink.source.watermark;

import java.util.List;
import java.util.Set;

import org.apache.flink.annotation.Internal;

/**
 * The Pravega watermark of one segment split: the {@code lower} of the newest watermark record
 * whose cut the split has passed (see {@link MarkRecord#passedBy}), never going back (it starts at
 * the watermark a restored split had emitted). A finished split needs none: Flink drops its output
 * from the reader's minimum.
 *
 * <p>Cheap per event: it rescans the records only when new ones arrived or the split's offset
 * reached the lowest offset at which a record newer than the last passed one would count as passed.
 * Used by the task thread only.
 */
@Internal
public final class SplitWatermarks {
    private final long segmentId;
    private long watermark;
    /** Index of the newest record passed so far (-1: none). */
    private int passedIndex = -1;
    /** Records seen at the last scan. */
    private int scanned;
    /** The started-segments set of the last scan (replaced, never changed in place, when it grows). */
    private Set<Long> scannedStarted;
    /** The offset at which the next scan may find a newer passed record. */
    private long nextThreshold = Long.MIN_VALUE;
    /** Whether {@link #update} has reported the watermark once (a restored one is reported at once). */
    private boolean reported;

    public SplitWatermarks(long segmentId, long restoredWatermark) {
        this.segmentId = segmentId;
        this.watermark = restoredWatermark;
    }

    /** The watermark so far (Long.MIN_VALUE: none yet). */
    public long current() {
        return watermark;
    }

    /**
     * Moves to {@code offset} given the stream's records (oldest first, only ever appended to)
     * and the segments handed out so far ({@code started}, see {@link MarkRecord#offsetNeeded};
     * null: no such restriction); returns true if the watermark advanced (or, the first time, if
     * a restored split has one).
     */
    public boolean update(List<MarkRecord> records, long offset, Set<Long> started) {
        boolean advanced = advance(records, offset, started);
        if (!reported && watermark != Long.MIN_VALUE) {
            advanced = true;
        }
        reported |= advanced;
        return advanced;
    }

    private boolean advance(List<MarkRecord> records, long offset, Set<Long> started) {
        int n = records.size();
        if (n == scanned && offset < nextThreshold && started == scannedStarted) {
            return false;
        }
        scannedStarted = started;
        long threshold = Long.MAX_VALUE;
        int newest = passedIndex;
        for (int i = n - 1; i > passedIndex; i--) {
            long needed = records.get(i).offsetNeeded(segmentId, started);
            if (offset >= needed) {
                newest = i;
                break;
            }
            threshold = Math.min(threshold, needed);
        }
        scanned = n;
        nextThreshold = newest == n - 1 ? Long.MAX_VALUE : threshold;
        if (newest == passedIndex) {
            return false;
        }
        passedIndex = newest;
        long lower = records.get(newest).lower;
        if (lower > watermark) {
            watermark = lower;
            return true;
        }
        return false;
    }

    /** Whether the split has passed the newest record (or there is none): no newer mark to wait for. */
    public boolean passedNewest(List<MarkRecord> records) {
        return passedIndex == records.size() - 1;
    }
}
