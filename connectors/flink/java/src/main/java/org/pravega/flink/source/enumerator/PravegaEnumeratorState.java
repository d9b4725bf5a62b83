package org.pravega.flink.source.enumerator;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.apache.flink.annotation.Internal;
import org.pravega.flink.source.split.PravegaSplit;

/**
 * What the enumerator checkpoints. Splits that are assigned belong to the readers (they checkpoint
 * their positions); the enumerator records which reader has them, which segments are finished
 * (and by whom, in which of its checkpoints), the splits not yet assigned, and the predecessors of
 * successor segments, so that a successor is handed out only after all its predecessors ended.
 */
@Internal
public final class PravegaEnumeratorState {
    /** A finished segment. */
    public static final class Finished {
        public final String splitId;
        public final int reader;
        /** The enumerator checkpoint that first recorded the finish ({@link #PENDING}: none yet). */
        public long epoch;
        /** True once its successors are known (or it has none to follow). */
        public boolean successorsKnown;

        public Finished(String splitId, int reader, long epoch, boolean successorsKnown) {
            this.splitId = splitId;
            this.reader = reader;
            this.epoch = epoch;
            this.successorsKnown = successorsKnown;
        }

        Finished copy() {
            return new Finished(splitId, reader, epoch, successorsKnown);
        }
    }

    /** A split waiting to be assigned; {@code preferredReader} -1 means any. */
    public static final class Pending {
        public final PravegaSplit split;
        public final int preferredReader;

        public Pending(PravegaSplit split, int preferredReader) {
            this.split = split;
            this.preferredReader = preferredReader;
        }
    }

    public static final long PENDING = Long.MAX_VALUE;

    /** The checkpoint this state was taken for (-1 before the first). */
    public long checkpointId = -1;
    public boolean initialized;
    /** Stream ("scope/stream") to its resolved end positions (segment id to offset); absent: no end. */
    public final Map<String, Map<Long, Long>> endCuts = new LinkedHashMap<>();
    public final Map<String, Pending> pending = new LinkedHashMap<>();
    public final Map<String, Integer> assigned = new LinkedHashMap<>();
    public final Map<String, Finished> finished = new LinkedHashMap<>();
    /** Successor split id to the ids of all its predecessor segments. */
    public final Map<String, List<Long>> predecessors = new LinkedHashMap<>();

    PravegaEnumeratorState copy() {
        PravegaEnumeratorState c = new PravegaEnumeratorState();
        c.checkpointId = checkpointId;
        c.initialized = initialized;
        for (Map.Entry<String, Map<Long, Long>> e : endCuts.entrySet()) {
            c.endCuts.put(e.getKey(), new LinkedHashMap<>(e.getValue()));
        }
        c.pending.putAll(pending);
        c.assigned.putAll(assigned);
        for (Map.Entry<String, Finished> e : finished.entrySet()) {
            c.finished.put(e.getKey(), e.getValue().copy());
        }
        for (Map.Entry<String, List<Long>> e : predecessors.entrySet()) {
            c.predecessors.put(e.getKey(), new ArrayList<>(e.getValue()));
        }
        return c;
    }

    @Override
    public String toString() {
        return "PravegaEnumeratorState{checkpoint=" + checkpointId + ", pending=" + pending.keySet() + ", assigned="
                + assigned + ", finished=" + finished.keySet() + "}";
    }
}
