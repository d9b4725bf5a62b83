package org.pravega.flink.testing;

import org.apache.flink.api.common.functions.MapFunction;

/**
 * Passes records through and throws once, after a number of records of one subtask: a user
 * function failing, which fails its task (and, chained with a source or sink, that source reader
 * or sink writer too). Once per job: see {@link OnceMarker}. Logs {@code injected-failure <where>}.
 */
public final class FailingIdentityMapper<T> implements MapFunction<T, T> {
    private static final long serialVersionUID = 1L;
    private final long failAfter;
    private final String where;
    private final OnceMarker marker;
    private final EventLog log;
    private transient long seen;

    public FailingIdentityMapper(long failAfter, String where, String markerPath, String logPath) {
        this.failAfter = failAfter;
        this.where = where;
        this.marker = new OnceMarker(markerPath);
        this.log = new EventLog(logPath);
    }

    @Override
    public T map(T value) {
        if (++seen == failAfter && marker.claim()) {
            log.write("injected-failure " + where);
            throw new IllegalStateException("injected failure after " + failAfter + " records (" + where + ")");
        }
        return value;
    }
}
