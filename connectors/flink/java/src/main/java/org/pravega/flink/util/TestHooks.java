package org.pravega.flink.util;

import java.io.FileWriter;
import java.io.IOException;
import java.io.Writer;
import java.util.Properties;

import org.apache.flink.annotation.Internal;

/**
 * Test-only failure injection, switched on by JVM system properties (which the tests set in the
 * JVM running the local mini-cluster). Each switch fires once: it is removed when consumed. With
 * no property set, nothing happens.
 *
 * <ul>
 *   <li>{@code pravega.flink.test.failReaderAfter=N}: the first source reader to emit N events
 *       throws;</li>
 *   <li>{@code pravega.flink.test.failWriterAfter=N}: the first sink writer to write N events
 *       throws (leaving an open transaction behind);</li>
 *   <li>{@code pravega.flink.test.failCommit=retry|before|after[,...]}: the next commit reports a
 *       transient error ({@code retry}), or throws before or after committing; a list is consumed
 *       one item per commit;</li>
 *   <li>{@code pravega.flink.test.eventLog=/path}: sinks append lines about transactions
 *       (begin, pre-commit, commit, orphan aborts) for the tests to check.</li>
 * </ul>
 */
@Internal
public final class TestHooks {
    public static final String PREFIX = "pravega.flink.test.";
    public static final String FAIL_READER_AFTER = PREFIX + "failReaderAfter";
    public static final String FAIL_WRITER_AFTER = PREFIX + "failWriterAfter";
    public static final String FAIL_COMMIT = PREFIX + "failCommit";
    public static final String EVENT_LOG = PREFIX + "eventLog";

    private TestHooks() {}

    /** Removes and returns a property (one consumer wins). */
    public static String consume(String name) {
        Properties p = System.getProperties();
        synchronized (p) {
            Object v = p.remove(name);
            return v == null ? null : v.toString();
        }
    }

    /** Takes the first item of a comma-separated list property, leaving the rest. */
    public static String consumeListItem(String name) {
        Properties p = System.getProperties();
        synchronized (p) {
            Object v = p.get(name);
            if (v == null) {
                return null;
            }
            String s = v.toString();
            int comma = s.indexOf(',');
            if (comma < 0) {
                p.remove(name);
                return s.trim();
            }
            p.setProperty(name, s.substring(comma + 1));
            return s.substring(0, comma).trim();
        }
    }

    public static Countdown countdown(String property) {
        String v = System.getProperty(property);
        return new Countdown(v == null ? -1 : Long.parseLong(v.trim()), property);
    }

    /**
     * Throws after a number of ticks of one instance; only the first instance to get there
     * throws (it consumes the property), so a restarted task does not fail again. Inert when
     * the property was not set at construction.
     */
    public static final class Countdown {
        private long remaining;
        private final String property;

        Countdown(long remaining, String property) {
            this.remaining = remaining;
            this.property = property;
        }

        public void tick(String where) {
            if (remaining < 0) {
                return;
            }
            if (remaining-- == 0) {
                remaining = -1;
                if (consume(property) != null) {
                    log("injected-failure " + where);
                    throw new InjectedFailure("injected failure in the " + where + " (" + property + ")");
                }
            }
        }
    }

    /** The exception thrown by the switches above. */
    public static final class InjectedFailure extends RuntimeException {
        private static final long serialVersionUID = 1L;

        public InjectedFailure(String message) {
            super(message);
        }
    }

    public static void log(String line) {
        String path = System.getProperty(EVENT_LOG);
        if (path == null) {
            return;
        }
        synchronized (TestHooks.class) {
            try (Writer w = new FileWriter(path, true)) {
                w.write(System.currentTimeMillis() + " " + line + "\n");
            } catch (IOException ignored) {
                // best effort: only tests read it
            }
        }
    }
}
