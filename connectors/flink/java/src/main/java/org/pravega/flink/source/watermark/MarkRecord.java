package org.pravega.flink.source.watermark;

import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

import org.apache.flink.annotation.Internal;
import org.pravega.flink.util.Json;

/**
 * One record of a stream's watermark stream {@code _MARK<stream>}, as the controller writes it:
 * UTF-8 JSON {@code {"v": 1, "lower": ms, "upper": ms, "cut": {"<segment id>": offset}}}. When it
 * was written, every active writer of the stream had noted a time between {@code lower} and
 * {@code upper}, at a position at or before {@code cut} in each segment.
 */
@Internal
public final class MarkRecord {
    public final long lower;
    public final long upper;
    /** Segment id to offset. */
    public final Map<Long, Long> cut;
    /** The highest segment number ({@code (int) segmentId}) in the cut; -1 if the cut is empty. */
    final long maxNumber;

    public MarkRecord(long lower, long upper, Map<Long, Long> cut) {
        this.lower = lower;
        this.upper = upper;
        this.cut = Collections.unmodifiableMap(new HashMap<>(cut));
        long max = -1;
        for (long id : cut.keySet()) {
            max = Math.max(max, id & 0xFFFFFFFFL);
        }
        this.maxNumber = max;
    }

    /** Parses one record's payload; a malformed or unknown record is an IllegalArgumentException. */
    public static MarkRecord parse(byte[] payload) {
        Object parsed = Json.parse(new String(payload, StandardCharsets.UTF_8));
        if (!(parsed instanceof Map)) {
            throw new IllegalArgumentException("watermark record is not a JSON object");
        }
        Map<?, ?> m = (Map<?, ?>) parsed;
        Object version = m.get("v");
        if (!(version instanceof Long) || (Long) version != 1L) {
            throw new IllegalArgumentException("unknown watermark record version " + version);
        }
        Object cutObj = m.get("cut");
        if (!(cutObj instanceof Map) || !(m.get("lower") instanceof Long) || !(m.get("upper") instanceof Long)) {
            throw new IllegalArgumentException("watermark record without lower, upper or cut");
        }
        Map<Long, Long> cut = new HashMap<>();
        for (Map.Entry<?, ?> e : ((Map<?, ?>) cutObj).entrySet()) {
            if (!(e.getValue() instanceof Long)) {
                throw new IllegalArgumentException("watermark record with a non-integral offset in its cut");
            }
            cut.put(Long.parseLong((String) e.getKey()), (Long) e.getValue());
        }
        return new MarkRecord((Long) m.get("lower"), (Long) m.get("upper"), cut);
    }

    /**
     * Whether a reader of segment {@code segmentId} at {@code offset} has passed this record: it
     * is at or past the record's cut position for its segment. A segment not in the cut counts as
     * passed if it is newer than every segment in the cut (a higher segment number: it was created
     * after the writers noted their positions, so all its events came later), and as not passed
     * otherwise (an older segment the writers had left, e.g. a predecessor sealed by a scale: its
     * events came before; only finishing it passes the record).
     */
    public boolean passedBy(long segmentId, long offset) {
        return offset >= offsetNeeded(segmentId, null);
    }

    /**
     * The offset in {@code segmentId} from which this record counts as passed (Long.MAX_VALUE:
     * not now). With {@code started} (the segments handed out to some reader) a record whose cut
     * names another segment that was not handed out yet is not passed: that segment's events
     * before the cut are not being read by anyone, so nothing would hold the watermark back for
     * them (a successor waiting for its predecessors while the other splits run ahead).
     */
    public long offsetNeeded(long segmentId, Set<Long> started) {
        if (started != null) {
            for (long id : cut.keySet()) {
                if (id != segmentId && !started.contains(id)) {
                    return Long.MAX_VALUE;
                }
            }
        }
        Long at = cut.get(segmentId);
        if (at != null) {
            return at;
        }
        return (segmentId & 0xFFFFFFFFL) > maxNumber ? Long.MIN_VALUE : Long.MAX_VALUE;
    }

    /** Whether every segment of the (non-empty) cut was handed out to some reader. */
    public boolean allStarted(Set<Long> started) {
        return !cut.isEmpty() && started.containsAll(cut.keySet());
    }

    @Override
    public String toString() {
        return "MarkRecord{lower=" + lower + ", upper=" + upper + ", cut=" + cut + "}";
    }
}
