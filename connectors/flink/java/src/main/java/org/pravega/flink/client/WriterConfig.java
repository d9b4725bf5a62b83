package org.pravega.flink.client;

import java.io.Serializable;

import org.apache.flink.annotation.Internal;

/** Tuning of the append path; the defaults suit 100-byte to 1-MiB events. */
@Internal
public final class WriterConfig implements Serializable {
    private static final long serialVersionUID = 1L;

    /** An {@code AppendBlockEnd} carries at most this much data. */
    public int maxBlockBytes = 1024 * 1024;
    /** Appends block once this much data per segment awaits acknowledgement. */
    public long maxInflightBytes = 16L * 1024 * 1024;
    /** Buffered events go out at least this often even without a flush. */
    public long lingerMillis = 5;
    /** Connect / reply timeout of one attempt. */
    public int timeoutMillis = 10_000;
    /** How long a segment may stay unreachable before writes fail. */
    public long retryBudgetMillis = 60_000;

    public WriterConfig copy() {
        WriterConfig c = new WriterConfig();
        c.maxBlockBytes = maxBlockBytes;
        c.maxInflightBytes = maxInflightBytes;
        c.lingerMillis = lingerMillis;
        c.timeoutMillis = timeoutMillis;
        c.retryBudgetMillis = retryBudgetMillis;
        return c;
    }
}
