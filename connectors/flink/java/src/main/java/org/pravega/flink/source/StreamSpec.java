package org.pravega.flink.source;

import java.io.Serializable;
import java.util.Objects;

import org.apache.flink.annotation.PublicEvolving;
import org.pravega.flink.client.StreamCut;

/** A stream to read, with optional start and end stream cuts (null: the source's defaults). */
@PublicEvolving
public final class StreamSpec implements Serializable {
    private static final long serialVersionUID = 1L;

    private final String scope;
    private final String stream;
    private final StreamCut startCut;
    private final StreamCut endCut;

    public StreamSpec(String scope, String stream, StreamCut startCut, StreamCut endCut) {
        this.scope = Objects.requireNonNull(scope, "scope");
        this.stream = Objects.requireNonNull(stream, "stream");
        for (StreamCut c : new StreamCut[] {startCut, endCut}) {
            if (c != null && !(c.getScope().equals(scope) && c.getStream().equals(stream))) {
                throw new IllegalArgumentException("stream cut of " + c.getScopedStream() + " given for stream "
                        + scope + "/" + stream);
            }
        }
        this.startCut = startCut;
        this.endCut = endCut;
    }

    public String getScope() {
        return scope;
    }

    public String getStream() {
        return stream;
    }

    public String getScopedStream() {
        return scope + "/" + stream;
    }

    /** Null or unbounded: start at the source's default position (head or tail). */
    public StreamCut getStartCut() {
        return startCut;
    }

    /** Null or unbounded: no end (or, for a bounded source, the tail when the job starts). */
    public StreamCut getEndCut() {
        return endCut;
    }

    public StreamSpec withStartCut(StreamCut cut) {
        return new StreamSpec(scope, stream, cut, endCut);
    }

    public StreamSpec withEndCut(StreamCut cut) {
        return new StreamSpec(scope, stream, startCut, cut);
    }

    @Override
    public String toString() {
        return getScopedStream() + (startCut != null ? " from " + startCut : "") + (endCut != null ? " to " + endCut : "");
    }
}
