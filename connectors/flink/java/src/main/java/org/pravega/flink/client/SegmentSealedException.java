package org.pravega.flink.client;

import org.apache.flink.annotation.Internal;

/** An append went to a segment that is sealed (or gone); the writer must move to its successors. */
@Internal
public class SegmentSealedException extends PravegaException {
    private static final long serialVersionUID = 1L;

    public SegmentSealedException(String segment, boolean missing) {
        super((missing ? "segment does not exist: " : "segment is sealed: ") + segment);
    }
}
