package org.pravega.flink.client;

import java.io.Serializable;
import java.util.Objects;

import org.apache.flink.annotation.Internal;

/**
 * A segment of a stream: {@code segmentId = (epoch << 32) | number}. Its qualified name, used in
 * every wire command, is {@code <scope>/<stream>/<number>.#epoch.<epoch>} (spec §1.4).
 */
@Internal
public final class Segment implements Serializable, Comparable<Segment> {
    private static final long serialVersionUID = 1L;

    private final String scope;
    private final String stream;
    private final long segmentId;

    public Segment(String scope, String stream, long segmentId) {
        this.scope = Objects.requireNonNull(scope, "scope");
        this.stream = Objects.requireNonNull(stream, "stream");
        this.segmentId = segmentId;
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

    public long getSegmentId() {
        return segmentId;
    }

    public int getNumber() {
        return (int) segmentId;
    }

    public int getEpoch() {
        return (int) (segmentId >>> 32);
    }

    public String getQualifiedName() {
        return scope + "/" + stream + "/" + getNumber() + ".#epoch." + getEpoch();
    }

    /** {@code <qualified name>#transaction.<16 hex high><16 hex low>}. */
    public String getTransactionSegmentName(TxnId txn) {
        return getQualifiedName() + "#transaction." + txn.toHex();
    }

    /** A stable key for maps and split ids: {@code scope/stream/segmentId}. */
    public String key() {
        return scope + "/" + stream + "/" + segmentId;
    }

    /** Parses {@link #key()}. */
    public static Segment fromKey(String key) {
        int last = key.lastIndexOf('/');
        int first = key.indexOf('/');
        if (first <= 0 || last <= first + 1 || last == key.length() - 1) {
            throw new IllegalArgumentException("not a segment key: " + key);
        }
        return new Segment(key.substring(0, first), key.substring(first + 1, last),
                Long.parseLong(key.substring(last + 1)));
    }

    @Override
    public int compareTo(Segment o) {
        int c = scope.compareTo(o.scope);
        if (c == 0) {
            c = stream.compareTo(o.stream);
        }
        return c != 0 ? c : Long.compare(segmentId, o.segmentId);
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof Segment)) {
            return false;
        }
        Segment s = (Segment) o;
        return segmentId == s.segmentId && scope.equals(s.scope) && stream.equals(s.stream);
    }

    @Override
    public int hashCode() {
        return Objects.hash(scope, stream, segmentId);
    }

    @Override
    public String toString() {
        return getQualifiedName();
    }
}
