package org.pravega.flink.source.event;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

import org.apache.flink.annotation.Internal;
import org.apache.flink.api.connector.source.SourceEvent;

/**
 * Enumerator to readers (Pravega watermarks only): every split id handed out to some reader so
 * far. A watermark record counts as passed only if each segment its cut names (with data before
 * the cut) has been handed out: a successor segment that no reader holds yet cannot hold the
 * watermark back itself, so its older events would arrive late.
 */
@Internal
public final class SegmentsStartedEvent implements SourceEvent {
    private static final long serialVersionUID = 1L;

    private final ArrayList<String> splitIds;

    public SegmentsStartedEvent(Collection<String> splitIds) {
        this.splitIds = new ArrayList<>(splitIds);
    }

    public List<String> getSplitIds() {
        return splitIds;
    }

    @Override
    public String toString() {
        return "SegmentsStarted" + splitIds;
    }
}
