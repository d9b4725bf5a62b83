package org.pravega.flink.client;

import org.apache.flink.annotation.Internal;

/** Base of the connector client's unchecked errors. */
@Internal
public class PravegaException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public PravegaException(String message) {
        super(message);
    }

    public PravegaException(String message, Throwable cause) {
        super(message, cause);
    }
}
