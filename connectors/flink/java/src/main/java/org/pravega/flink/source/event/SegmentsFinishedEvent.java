package org.pravega.flink.source.event;

import java.util.ArrayList;
import java.util.List;

import org.apache.flink.annotation.Internal;
import org.apache.flink.api.connector.source.SourceEvent;

/** Reader to enumerator: these segments (split ids) are read to their end. Sent again after a restore. */
@Internal
public final class SegmentsFinishedEvent implements SourceEvent {
    private static final long serialVersionUID = 1L;

    private final ArrayList<String> splitIds;

    public SegmentsFinishedEvent(List<String> splitIds) {
        this.splitIds = new ArrayList<>(splitIds);
    }

    public List<String> getSplitIds() {
        return splitIds;
    }

    @Override
    public String toString() {
        return "SegmentsFinished" + splitIds;
    }
}
