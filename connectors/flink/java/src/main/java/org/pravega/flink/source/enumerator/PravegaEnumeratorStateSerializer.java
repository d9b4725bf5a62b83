package org.pravega.flink.source.enumerator;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.apache.flink.annotation.Internal;
import org.pravega.flink.source.split.PravegaSplitSerializer;
import org.pravega.flink.util.DataSerializer;

/** Versioned serializer of {@link PravegaEnumeratorState}. */
@Internal
public final class PravegaEnumeratorStateSerializer extends DataSerializer<PravegaEnumeratorState> {
    public PravegaEnumeratorStateSerializer() {
        // Version 1: checkpoint id, initialized, end cuts, pending splits, assignments, finished splits, predecessors
        super("Pravega enumerator state", 1, 256);
    }

    @Override
    protected void write(PravegaEnumeratorState s, DataOutputStream out) throws IOException {
        out.writeLong(s.checkpointId);
        out.writeBoolean(s.initialized);
        out.writeInt(s.endCuts.size());
        for (Map.Entry<String, Map<Long, Long>> e : s.endCuts.entrySet()) {
            out.writeUTF(e.getKey());
            out.writeInt(e.getValue().size());
            for (Map.Entry<Long, Long> p : e.getValue().entrySet()) {
                out.writeLong(p.getKey());
                out.writeLong(p.getValue());
            }
        }
        out.writeInt(s.pending.size());
        for (PravegaEnumeratorState.Pending p : s.pending.values()) {
            PravegaSplitSerializer.writeSplit(p.split, out);
            out.writeInt(p.preferredReader);
        }
        out.writeInt(s.assigned.size());
        for (Map.Entry<String, Integer> e : s.assigned.entrySet()) {
            out.writeUTF(e.getKey());
            out.writeInt(e.getValue());
        }
        out.writeInt(s.finished.size());
        for (PravegaEnumeratorState.Finished f : s.finished.values()) {
            out.writeUTF(f.splitId);
            out.writeInt(f.reader);
            out.writeLong(f.epoch);
            out.writeBoolean(f.successorsKnown);
        }
        out.writeInt(s.predecessors.size());
        for (Map.Entry<String, List<Long>> e : s.predecessors.entrySet()) {
            out.writeUTF(e.getKey());
            out.writeInt(e.getValue().size());
            for (long id : e.getValue()) {
                out.writeLong(id);
            }
        }
    }

    @Override
    protected PravegaEnumeratorState read(int version, DataInputStream in) throws IOException {
        PravegaEnumeratorState s = new PravegaEnumeratorState();
        s.checkpointId = in.readLong();
        s.initialized = in.readBoolean();
        int n = in.readInt();
        for (int i = 0; i < n; i++) {
            String stream = in.readUTF();
            int m = in.readInt();
            Map<Long, Long> cut = new LinkedHashMap<>();
            for (int j = 0; j < m; j++) {
                cut.put(in.readLong(), in.readLong());
            }
            s.endCuts.put(stream, cut);
        }
        n = in.readInt();
        for (int i = 0; i < n; i++) {
            PravegaEnumeratorState.Pending p = new PravegaEnumeratorState.Pending(PravegaSplitSerializer.readSplit(in),
                    in.readInt());
            s.pending.put(p.split.splitId(), p);
        }
        n = in.readInt();
        for (int i = 0; i < n; i++) {
            s.assigned.put(in.readUTF(), in.readInt());
        }
        n = in.readInt();
        for (int i = 0; i < n; i++) {
            PravegaEnumeratorState.Finished f = new PravegaEnumeratorState.Finished(in.readUTF(), in.readInt(),
                    in.readLong(), in.readBoolean());
            s.finished.put(f.splitId, f);
        }
        n = in.readInt();
        for (int i = 0; i < n; i++) {
            String id = in.readUTF();
            int m = in.readInt();
            List<Long> preds = new ArrayList<>(m);
            for (int j = 0; j < m; j++) {
                preds.add(in.readLong());
            }
            s.predecessors.put(id, preds);
        }
        if (in.available() != 0) {
            throw new IOException("Pravega enumerator state has " + in.available() + " trailing bytes");
        }
        return s;
    }
}
