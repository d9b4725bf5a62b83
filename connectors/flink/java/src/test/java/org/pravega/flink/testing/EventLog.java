package org.pravega.flink.testing;

import java.io.FileWriter;
import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.io.Writer;

/**
 * Appends lines {@code <millis> <kind> <args...>} to a file that the Python tests read. Every task
 * of a local mini-cluster runs in one JVM, so a lock on the class keeps lines whole.
 */
public final class EventLog implements Serializable {
    private static final long serialVersionUID = 1L;
    private final String path;

    public EventLog(String path) {
        this.path = path;
    }

    public void write(String line) {
        synchronized (EventLog.class) {
            try (Writer w = new FileWriter(path, true)) {
                w.write(System.currentTimeMillis() + " " + line + "\n");
            } catch (IOException e) {
                throw new UncheckedIOException("cannot append to the test event log " + path, e);
            }
        }
    }
}
