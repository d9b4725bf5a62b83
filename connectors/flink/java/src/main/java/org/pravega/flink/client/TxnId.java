package org.pravega.flink.client;

import java.io.Serializable;

import org.apache.flink.annotation.Internal;

/** A transaction id: the controller's 128-bit UUID as two signed 64-bit halves. */
@Internal
public final class TxnId implements Serializable {
    private static final long serialVersionUID = 1L;

    private final long high;
    private final long low;

    public TxnId(long high, long low) {
        this.high = high;
        this.low = low;
    }

    public long getHigh() {
        return high;
    }

    public long getLow() {
        return low;
    }

    /** The stream epoch the transaction was opened in (bits 96..127). */
    public int getEpoch() {
        return (int) (high >>> 32);
    }

    /** 32 lower-case hex digits, as in transaction segment names. */
    public String toHex() {
        return String.format("%016x%016x", high, low);
    }

    public static TxnId fromHex(String hex) {
        if (hex.length() != 32) {
            throw new IllegalArgumentException("a transaction id has 32 hex digits: " + hex);
        }
        return new TxnId(Long.parseUnsignedLong(hex.substring(0, 16), 16),
                Long.parseUnsignedLong(hex.substring(16), 16));
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TxnId && ((TxnId) o).high == high && ((TxnId) o).low == low;
    }

    @Override
    public int hashCode() {
        return Long.hashCode(high) * 31 + Long.hashCode(low);
    }

    @Override
    public String toString() {
        return toHex();
    }
}
