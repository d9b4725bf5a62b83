package org.pravega.flink.client;

import org.apache.flink.annotation.Internal;

/**
 * A failure that may go away by itself: the controller or segment store is unreachable, a
 * connection dropped, a deadline passed. Callers may retry; the committer answers {@code retryLater}.
 */
@Internal
public class RetriableException extends PravegaException {
    private static final long serialVersionUID = 1L;

    public RetriableException(String message) {
        super(message);
    }

    public RetriableException(String message, Throwable cause) {
        super(message, cause);
    }
}
