package org.pravega.flink.client;

import org.apache.flink.annotation.Internal;

/** The peer (controller or segment store) sent something we cannot parse. */
@Internal
public class ProtocolException extends PravegaException {
    private static final long serialVersionUID = 1L;

    public ProtocolException(String message) {
        super(message);
    }
}
