package org.pravega.flink.testing;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;

/**
 * Helpers for the benchmark (no Python function in the data path): fixed-size events made from
 * numbers, and a sink that only counts and notes when the first and last record arrived (in an
 * {@link EventLog} file). Compiled into the test jar, not the connector.
 */
public final class BenchmarkSupport {
    private BenchmarkSupport() {}

    /** {@code Long} to a UTF-8 text of exactly {@code size} bytes: the number, then padding. */
    public static SerializationSchema<Long> paddedLongs(int size) {
        return new Padded(size);
    }

    public static <T> Sink<T> countingSink(String name, String logPath) {
        return new CountingSink<>(name, new EventLog(logPath));
    }

    static final class Padded implements SerializationSchema<Long> {
        private static final long serialVersionUID = 1L;
        private final int size;

        Padded(int size) {
            this.size = size;
        }

        @Override
        public byte[] serialize(Long element) {
            byte[] digits = Long.toString(element).getBytes(StandardCharsets.US_ASCII);
            byte[] out = Arrays.copyOf(digits, Math.max(size, digits.length + 1));
            out[digits.length] = ':';
            Arrays.fill(out, digits.length + 1, out.length, (byte) 'x');
            return out;
        }
    }

    static final class CountingSink<T> implements Sink<T> {
        private static final long serialVersionUID = 1L;
        private final String name;
        private final EventLog log;

        CountingSink(String name, EventLog log) {
            this.name = name;
            this.log = log;
        }

        @Override
        public SinkWriter<T> createWriter(WriterInitContext context) {
            return new SinkWriter<T>() {
                long count;
                long first;
                long last;

                @Override
                public void write(T element, Context ctx) {
                    if (count++ == 0) {
                        first = System.currentTimeMillis();
                    }
                    if ((count & 1023) == 0) {
                        last = System.currentTimeMillis();
                    }
                }

                @Override
                public void flush(boolean endOfInput) {
                    if (count > 0) {
                        last = System.currentTimeMillis();
                    }
                }

                @Override
                public void close() {
                    log.write("count " + name + " " + count + " " + first + " " + last);
                }
            };
        }
    }
}
