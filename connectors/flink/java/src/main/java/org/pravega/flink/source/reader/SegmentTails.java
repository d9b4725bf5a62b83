package org.pravega.flink.source.reader;

import java.util.concurrent.ConcurrentHashMap;

import org.apache.flink.annotation.Internal;

/** The last known length of each segment being read (for the unread-bytes metric). */
@Internal
final class SegmentTails extends ConcurrentHashMap<String, Long> {
    private static final long serialVersionUID = 1L;
}
