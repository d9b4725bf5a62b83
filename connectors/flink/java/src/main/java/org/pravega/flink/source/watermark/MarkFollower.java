package org.pravega.flink.source.watermark;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.apache.flink.annotation.Internal;
import org.pravega.flink.client.ControllerClient;
import org.pravega.flink.client.Reply;
import org.pravega.flink.client.Segment;
import org.pravega.flink.client.SegmentMetadataClient;
import org.pravega.flink.client.SegmentReadClient;
import org.pravega.flink.client.WireCommands;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Follows the watermark streams ({@code _MARK<stream>}, one segment, same scope) of the streams a
 * reader holds splits of: {@link #poll} (fetcher thread, at most once per interval) asks for the
 * segment's length and reads what was appended into the shared {@link MarkFeed}. Polling keeps
 * the reader's own segment connections free of a second parked read; a watermark stream that does
 * not exist yet (no writer noted a time) is simply asked again later.
 */
@Internal
public final class MarkFollower implements AutoCloseable {
    /** The prefix of a stream's watermark stream (Pravega's {@code NameUtils.MARK_PREFIX}). */
    public static final String MARK_PREFIX = "_MARK";
    private static final Logger LOG = LoggerFactory.getLogger(MarkFollower.class);

    private final ControllerClient controller;
    private final MarkFeed feed;
    private final int timeoutMillis;
    private final long intervalMillis;
    private final Map<String, SegmentReadClient> readers = new HashMap<>();
    private SegmentMetadataClient meta;
    private long nextPoll;

    public MarkFollower(ControllerClient controller, MarkFeed feed, int timeoutMillis, long intervalMillis) {
        this.controller = controller;
        this.feed = feed;
        this.timeoutMillis = timeoutMillis;
        this.intervalMillis = intervalMillis;
    }

    /** The segment holding the watermarks of {@code scope/stream}. */
    public static Segment markSegment(String scope, String stream) {
        return new Segment(scope, MARK_PREFIX + stream, 0);
    }

    /** Reads new records of these streams (each {@code scope/stream}) if the interval is up. */
    public void poll(Collection<Segment> heldSegments) {
        long now = System.currentTimeMillis();
        if (now < nextPoll) {
            return;
        }
        nextPoll = now + intervalMillis;
        Map<String, Segment> marks = new HashMap<>();
        for (Segment s : heldSegments) {
            marks.putIfAbsent(s.getScopedStream(), markSegment(s.getScope(), s.getStream()));
        }
        for (Map.Entry<String, Segment> e : marks.entrySet()) {
            try {
                follow(e.getKey(), e.getValue());
            } catch (RuntimeException ex) {
                LOG.debug("cannot read the watermarks of {} now: {}", e.getKey(), ex.toString());
            }
        }
    }

    private void follow(String scopedStream, Segment segment) {
        synchronized (feed) { // the fetcher's follower and the task thread's (no splits) share the feed
            followLocked(scopedStream, segment);
        }
    }

    private void followLocked(String scopedStream, Segment segment) {
        if (meta == null) {
            meta = new SegmentMetadataClient(controller, timeoutMillis);
        }
        long length = meta.info(segment).writeOffset;
        long offset = feed.offset(scopedStream);
        if (length <= offset) {
            return;
        }
        SegmentReadClient reader = readers.computeIfAbsent(scopedStream,
                k -> new SegmentReadClient(controller, segment, timeoutMillis));
        byte[] buf = new byte[(int) Math.min(Integer.MAX_VALUE - 16, length - offset)];
        int filled = 0;
        while (filled < buf.length) {
            Reply r;
            try {
                r = reader.read(offset + filled, buf.length - filled).get(timeoutMillis, TimeUnit.MILLISECONDS);
            } catch (Exception ex) {
                reader.reset(false);
                throw new IllegalStateException("reading " + segment + " failed: " + ex, ex);
            }
            if (r.type != WireCommands.SEGMENT_READ) {
                reader.reset(r.type == WireCommands.WRONG_HOST);
                throw new IllegalStateException("reading " + segment + " failed: " + r);
            }
            int n = Math.min(r.dataLength, buf.length - filled);
            System.arraycopy(r.data, r.dataOffset, buf, filled, n);
            filled += n;
            if (r.endOfSegment || n == 0) {
                break;
            }
        }
        List<MarkRecord> records = new ArrayList<>();
        int pos = 0;
        while (filled - pos >= WireCommands.EVENT_HEADER) {
            int type = WireCommands.getInt(buf, pos);
            int len = WireCommands.getInt(buf, pos + 4);
            if (type != WireCommands.EVENT_TYPE || len < 0) {
                throw new IllegalStateException(segment + " holds no event at offset " + (offset + pos));
            }
            if (filled - pos - WireCommands.EVENT_HEADER < len) {
                break; // the rest arrives with the next poll
            }
            int from = pos + WireCommands.EVENT_HEADER;
            byte[] payload = java.util.Arrays.copyOfRange(buf, from, from + len);
            pos = from + len;
            try {
                records.add(MarkRecord.parse(payload));
            } catch (IllegalArgumentException ex) {
                LOG.warn("skipping a watermark record of {} at offset {} that cannot be read: {}", scopedStream,
                        offset + from - WireCommands.EVENT_HEADER, ex.getMessage());
            }
        }
        feed.append(scopedStream, records, offset + pos);
    }

    @Override
    public void close() {
        for (SegmentReadClient r : readers.values()) {
            r.close();
        }
        readers.clear();
        if (meta != null) {
            meta.close();
        }
    }
}
