package org.pravega.flink.source.watermark;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import org.apache.flink.annotation.Internal;

/**
 * The watermark records of the streams a source reader reads, shared by the fetcher thread (which
 * appends what {@link MarkFollower} reads) and the task thread (which computes split watermarks).
 * Each stream's list is only ever appended to; readers get an immutable snapshot. It also holds
 * which segments have been handed out to any reader (from the enumerator's
 * {@code SegmentsStartedEvent}).
 */
@Internal
public final class MarkFeed {
    /** One stream's records and started segments (a handle the task thread may keep per split). */
    public static final class StreamMarks {
        volatile List<MarkRecord> records = Collections.emptyList();
        /** Segment ids handed out to some reader (replaced, never changed in place). */
        volatile Set<Long> started = Collections.emptySet();
        /** Where the next record starts in the watermark segment (fetcher thread only). */
        long offset;

        /** The records so far, oldest first (an immutable snapshot). */
        public List<MarkRecord> records() {
            return records;
        }

        /** The segment ids handed out to some reader so far (an immutable snapshot). */
        public Set<Long> started() {
            return started;
        }
    }

    private final Map<String, StreamMarks> streams = new ConcurrentHashMap<>();

    /** The handle of {@code "scope/stream"} (created on first use). */
    public StreamMarks marks(String scopedStream) {
        return streams.computeIfAbsent(scopedStream, k -> new StreamMarks());
    }

    /** The records of {@code "scope/stream"} so far, oldest first. */
    public List<MarkRecord> records(String scopedStream) {
        StreamMarks m = streams.get(scopedStream);
        return m == null ? Collections.emptyList() : m.records;
    }

    /** The segments of {@code "scope/stream"} handed out to some reader so far (an immutable set). */
    public Set<Long> started(String scopedStream) {
        StreamMarks m = streams.get(scopedStream);
        return m == null ? Collections.emptySet() : m.started;
    }

    /** Records that these segments (of {@code "scope/stream"}) were handed out. */
    public void addStarted(String scopedStream, Set<Long> segmentIds) {
        StreamMarks m = marks(scopedStream);
        if (!m.started.containsAll(segmentIds)) {
            Set<Long> next = new HashSet<>(m.started);
            next.addAll(segmentIds);
            m.started = Collections.unmodifiableSet(next);
        }
    }

    /**
     * A watermark that holds for every segment of {@code "scope/stream"} nobody holds yet: the
     * {@code lower} of the newest record all of whose cut segments were handed out (Long.MIN_VALUE:
     * none). A segment handed out later is not in that cut; it is newer than the cut's segments
     * (its predecessors were all handed out and finished), so all its events were written after
     * the writers noted that time. A reader without splits emits it instead of going idle: an idle
     * reader that gets splits later could not hold the job's watermark back for them.
     */
    public long unheldWatermark(String scopedStream) {
        StreamMarks m = streams.get(scopedStream);
        if (m == null) {
            return Long.MIN_VALUE;
        }
        List<MarkRecord> records = m.records;
        Set<Long> started = m.started;
        for (int i = records.size() - 1; i >= 0; i--) {
            if (records.get(i).allStarted(started)) {
                return records.get(i).lower;
            }
        }
        return Long.MIN_VALUE;
    }

    public long offset(String scopedStream) {
        return marks(scopedStream).offset;
    }

    public void append(String scopedStream, List<MarkRecord> more, long newOffset) {
        StreamMarks m = marks(scopedStream);
        if (!more.isEmpty()) {
            List<MarkRecord> next = new ArrayList<>(m.records.size() + more.size());
            next.addAll(m.records);
            next.addAll(more);
            m.records = Collections.unmodifiableList(next);
        }
        m.offset = newOffset;
    }
}
