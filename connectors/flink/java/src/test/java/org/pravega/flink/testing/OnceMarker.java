package org.pravega.flink.testing;

import java.io.File;
import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;

/**
 * A failure that fires once per job, restarts included: the first caller to create the marker
 * file wins. A file and not a static field, because a restarted task may load the test classes
 * into a fresh user class loader.
 */
public final class OnceMarker implements Serializable {
    private static final long serialVersionUID = 1L;
    private final String path;

    public OnceMarker(String path) {
        this.path = path;
    }

    /** True for exactly one caller. */
    public boolean claim() {
        try {
            return new File(path).createNewFile();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the marker " + path, e);
        }
    }
}
