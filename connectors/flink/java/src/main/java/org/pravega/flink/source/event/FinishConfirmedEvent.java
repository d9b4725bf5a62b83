package org.pravega.flink.source.event;

import java.util.ArrayList;
import java.util.List;

import org.apache.flink.annotation.Internal;
import org.apache.flink.api.connector.source.SourceEvent;

/**
 * Enumerator to reader: a completed checkpoint of the enumerator records these finishes, so the
 * reader may drop their finished markers.
 */
@Internal
public final class FinishConfirmedEvent implements SourceEvent {
    private static final long serialVersionUID = 1L;

    private final ArrayList<String> splitIds;

    public FinishConfirmedEvent(List<String> splitIds) {
        this.splitIds = new ArrayList<>(splitIds);
    }

    public List<String> getSplitIds() {
        return splitIds;
    }

    @Override
    public String toString() {
        return "FinishConfirmed" + splitIds;
    }
}
