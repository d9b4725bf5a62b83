package org.pravega.flink.client;

/** Base of the connector client's unchecked errors. */
public class PravegaException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public PravegaException(String message) {
        super(message);
    }

    public PravegaException(String message, Throwable cause) {
        super(message, cause);
    }
}
