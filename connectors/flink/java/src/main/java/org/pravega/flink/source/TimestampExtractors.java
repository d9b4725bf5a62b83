package org.pravega.flink.source;

import java.nio.charset.StandardCharsets;
import java.util.regex.Pattern;

import org.apache.flink.annotation.PublicEvolving;
import org.pravega.flink.util.Json;

/** Ready-made {@link TimestampExtractor}s. Events without a readable time get none (Long.MIN_VALUE). */
@PublicEvolving
public final class TimestampExtractors {
    private TimestampExtractors() {}

    /** A top-level numeric field (milliseconds) of the event's JSON text, e.g. {@code {"ts": 1700000000000}}. */
    public static TimestampExtractor jsonField(String field) {
        if (field == null || field.isEmpty()) {
            throw new IllegalArgumentException("jsonField needs a field name");
        }
        return new JsonField(field);
    }

    /**
     * Field {@code index} (from 0) of the event's text split at {@code delimiter}, as milliseconds,
     * e.g. {@code delimitedField("|", 2)} of {@code "k1|17|1700000000000"}.
     */
    public static TimestampExtractor delimitedField(String delimiter, int index) {
        if (delimiter == null || delimiter.isEmpty() || index < 0) {
            throw new IllegalArgumentException("delimitedField needs a non-empty delimiter and an index >= 0");
        }
        return new DelimitedField(delimiter, index);
    }

    static long parseMillis(String text) {
        if (text == null) {
            return Long.MIN_VALUE;
        }
        try {
            return Long.parseLong(text.trim());
        } catch (NumberFormatException e) {
            return Long.MIN_VALUE;
        }
    }

    static final class JsonField implements TimestampExtractor {
        private static final long serialVersionUID = 1L;
        private final String field;

        JsonField(String field) {
            this.field = field;
        }

        @Override
        public long extractTimestamp(byte[] event) {
            return parseMillis(Json.topLevelField(new String(event, StandardCharsets.UTF_8), field));
        }

        @Override
        public String toString() {
            return "jsonField(" + field + ")";
        }
    }

    static final class DelimitedField implements TimestampExtractor {
        private static final long serialVersionUID = 1L;
        private final String delimiter;
        private final int index;

        DelimitedField(String delimiter, int index) {
            this.delimiter = delimiter;
            this.index = index;
        }

        @Override
        public long extractTimestamp(byte[] event) {
            String[] parts = new String(event, StandardCharsets.UTF_8).split(Pattern.quote(delimiter), -1);
            return index < parts.length ? parseMillis(parts[index]) : Long.MIN_VALUE;
        }

        @Override
        public String toString() {
            return "delimitedField(" + delimiter + ", " + index + ")";
        }
    }
}
