package org.pravega.flink.source.watermark;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import org.apache.flink.annotation.Internal;

/**
 * The watermark records of the streams a source reader reads, shared by the fetcher thread (which
 * appends what {@link MarkFollower} reads) and the task thread (which computes split watermarks).
 * Each stream's list is only ever appended to; readers get an immutable snapshot.
 */
@Internal
public final class MarkFeed {
    private static final class StreamMarks {
        volatile List<MarkRecord> records = Collections.emptyList();
        /** Where the next record starts in the watermark segment (fetcher thread only). */
        long offset;
    }

    private final Map<String, StreamMarks> streams = new ConcurrentHashMap<>();

    private StreamMarks marks(String scopedStream) {
        return streams.computeIfAbsent(scopedStream, k -> new StreamMarks());
    }

    /** The records of {@code "scope/stream"} so far, oldest first. */
    public List<MarkRecord> records(String scopedStream) {
        StreamMarks m = streams.get(scopedStream);
        return m == null ? Collections.emptyList() : m.records;
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
