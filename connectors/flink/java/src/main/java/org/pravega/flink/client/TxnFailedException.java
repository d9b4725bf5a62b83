package org.pravega.flink.client;

import org.apache.flink.annotation.Internal;

/** A transaction can no longer be written or committed (it was aborted, or its segments are gone). */
@Internal
public class TxnFailedException extends PravegaException {
    private static final long serialVersionUID = 1L;

    public TxnFailedException(String message) {
        super(message);
    }

    public TxnFailedException(String message, Throwable cause) {
        super(message, cause);
    }
}
