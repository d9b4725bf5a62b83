package org.pravega.flink.client;

/** The peer (controller or segment store) sent something we cannot parse. */
public class ProtocolException extends PravegaException {
    private static final long serialVersionUID = 1L;

    public ProtocolException(String message) {
        super(message);
    }
}
