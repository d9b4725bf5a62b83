package org.pravega.flink.sink;

import java.lang.reflect.Array;
import java.nio.charset.StandardCharsets;
import java.util.List;

import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.api.java.tuple.Tuple;
import org.apache.flink.types.Row;
import org.pravega.flink.util.Json;

/** Ready-made {@link RoutingKeyExtractor}s (each usable from PyFlink, which cannot pass Java lambdas). */
@PublicEvolving
public final class RoutingKeyExtractors {
    private RoutingKeyExtractors() {}

    /** No routing key: events are spread over the segments at random. */
    public static <T> RoutingKeyExtractor<T> none() {
        return new None<>();
    }

    /** The same key for every event (all events in one segment, in order). */
    public static <T> RoutingKeyExtractor<T> fixed(String key) {
        return new Fixed<>(key);
    }

    /**
     * The value of a top-level field of the event's JSON text (the serialized bytes, UTF-8):
     * strings unquoted, numbers and booleans as written. No such field or not JSON: no key.
     */
    public static <T> RoutingKeyExtractor<T> jsonField(String field) {
        return new JsonField<>(field);
    }

    /**
     * The event's text (serialized bytes, UTF-8) up to the first {@code delimiter}, e.g. with ":"
     * the key of {@code "user-7:clicked"} is {@code "user-7"}. Without the delimiter the whole text
     * is the key.
     */
    public static <T> RoutingKeyExtractor<T> delimitedPrefix(String delimiter) {
        return new DelimitedPrefix<>(delimiter);
    }

    /** Field {@code index} of a {@link Row}, {@link Tuple}, {@link List} or array element, as text. */
    public static <T> RoutingKeyExtractor<T> field(int index) {
        return new Field<>(index);
    }

    /** {@code String.valueOf(element)}. */
    public static <T> RoutingKeyExtractor<T> elementToString() {
        return new ToString<>();
    }

    static final class None<T> implements RoutingKeyExtractor<T> {
        private static final long serialVersionUID = 1L;

        @Override
        public String getRoutingKey(T element, byte[] serialized) {
            return null;
        }

        @Override
        public String toString() {
            return "none";
        }
    }

    static final class Fixed<T> implements RoutingKeyExtractor<T> {
        private static final long serialVersionUID = 1L;
        private final String key;

        Fixed(String key) {
            this.key = key;
        }

        @Override
        public String getRoutingKey(T element, byte[] serialized) {
            return key;
        }

        @Override
        public String toString() {
            return "fixed(" + key + ")";
        }
    }

    static final class JsonField<T> implements RoutingKeyExtractor<T> {
        private static final long serialVersionUID = 1L;
        private final String field;

        JsonField(String field) {
            this.field = field;
        }

        @Override
        public String getRoutingKey(T element, byte[] serialized) {
            return Json.topLevelField(new String(serialized, StandardCharsets.UTF_8), field);
        }

        @Override
        public String toString() {
            return "jsonField(" + field + ")";
        }
    }

    static final class DelimitedPrefix<T> implements RoutingKeyExtractor<T> {
        private static final long serialVersionUID = 1L;
        private final String delimiter;

        DelimitedPrefix(String delimiter) {
            if (delimiter == null || delimiter.isEmpty()) {
                throw new IllegalArgumentException("the routing-key delimiter must not be empty");
            }
            this.delimiter = delimiter;
        }

        @Override
        public String getRoutingKey(T element, byte[] serialized) {
            String text = new String(serialized, StandardCharsets.UTF_8);
            int at = text.indexOf(delimiter);
            return at < 0 ? text : text.substring(0, at);
        }

        @Override
        public String toString() {
            return "delimitedPrefix(" + delimiter + ")";
        }
    }

    static final class Field<T> implements RoutingKeyExtractor<T> {
        private static final long serialVersionUID = 1L;
        private final int index;

        Field(int index) {
            if (index < 0) {
                throw new IllegalArgumentException("field index must be >= 0");
            }
            this.index = index;
        }

        @Override
        public String getRoutingKey(T element, byte[] serialized) {
            Object v;
            if (element instanceof Row) {
                v = ((Row) element).getField(index);
            } else if (element instanceof Tuple) {
                v = ((Tuple) element).getField(index);
            } else if (element instanceof List) {
                v = ((List<?>) element).get(index);
            } else if (element != null && element.getClass().isArray()) {
                v = Array.get(element, index);
            } else {
                throw new IllegalArgumentException("routing key field(" + index + ") needs a Row, Tuple, List or array"
                        + " element, got " + (element == null ? "null" : element.getClass().getName()));
            }
            return v == null ? null : String.valueOf(v);
        }

        @Override
        public String toString() {
            return "field(" + index + ")";
        }
    }

    static final class ToString<T> implements RoutingKeyExtractor<T> {
        private static final long serialVersionUID = 1L;

        @Override
        public String getRoutingKey(T element, byte[] serialized) {
            return String.valueOf(element);
        }

        @Override
        public String toString() {
            return "elementToString";
        }
    }
}
