package org.pravega.flink.client;

import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

import org.apache.flink.annotation.Internal;
import org.pravega.flink.util.Json;

/**
 * A position in a stream: an offset in each segment of a consistent set of segments. No positions
 * means "unbounded" (the head as a start, no end as an end). The text form is the one of the
 * Python client's {@code pravega.StreamCut}: {@code "sc1:" + base64url(JSON)}.
 */
@Internal
public final class StreamCut implements Serializable {
    private static final long serialVersionUID = 1L;
    private static final String PREFIX = "sc1:";

    private final String scope;
    private final String stream;
    private final TreeMap<Long, Long> positions;

    public StreamCut(String scope, String stream, Map<Long, Long> positions) {
        this.scope = Objects.requireNonNull(scope, "scope");
        this.stream = Objects.requireNonNull(stream, "stream");
        this.positions = new TreeMap<>(positions);
    }

    public static StreamCut unbounded(String scope, String stream) {
        return new StreamCut(scope, stream, Collections.emptyMap());
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

    /** Segment id to offset, sorted by segment id. */
    public Map<Long, Long> getPositions() {
        return Collections.unmodifiableMap(positions);
    }

    public boolean isUnbounded() {
        return positions.isEmpty();
    }

    public static StreamCut fromText(String text) {
        if (text == null || !text.startsWith(PREFIX)) {
            throw new IllegalArgumentException("not a stream cut (expected the 'sc1:...' text form of"
                    + " pravega.StreamCut): " + (text == null ? "null" : text.substring(0, Math.min(40, text.length()))));
        }
        try {
            String json = new String(Base64.getUrlDecoder().decode(text.substring(PREFIX.length())),
                    StandardCharsets.UTF_8);
            Map<?, ?> body = (Map<?, ?>) Json.parse(json);
            TreeMap<Long, Long> positions = new TreeMap<>();
            for (Object entry : (List<?>) body.get("positions")) {
                List<?> pair = (List<?>) entry;
                positions.put(((Number) pair.get(0)).longValue(), ((Number) pair.get(1)).longValue());
            }
            return new StreamCut((String) body.get("scope"), (String) body.get("stream"), positions);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("malformed stream cut: " + e.getMessage(), e);
        }
    }

    public String toText() {
        StringBuilder json = new StringBuilder("{\"positions\":[");
        boolean first = true;
        for (Map.Entry<Long, Long> e : positions.entrySet()) {
            if (!first) {
                json.append(',');
            }
            first = false;
            json.append('[').append(e.getKey()).append(',').append(e.getValue()).append(']');
        }
        json.append("],\"scope\":").append(quote(scope)).append(",\"stream\":").append(quote(stream))
                .append(",\"v\":1}");
        String b64 = Base64.getUrlEncoder().withoutPadding()
                .encodeToString(json.toString().getBytes(StandardCharsets.UTF_8));
        return PREFIX + b64;
    }

    private static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') {
                b.append('\\');
            }
            b.append(c);
        }
        return b.append('"').toString();
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof StreamCut)) {
            return false;
        }
        StreamCut c = (StreamCut) o;
        return scope.equals(c.scope) && stream.equals(c.stream) && positions.equals(c.positions);
    }

    @Override
    public int hashCode() {
        return Objects.hash(scope, stream, positions);
    }

    @Override
    public String toString() {
        return scope + "/" + stream + positions;
    }
}
