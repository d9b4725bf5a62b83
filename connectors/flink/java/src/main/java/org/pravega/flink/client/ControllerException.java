package org.pravega.flink.client;

import org.apache.flink.annotation.Internal;

/** The controller rejected a request (not found, invalid argument, ...): retrying will not help. */
@Internal
public class ControllerException extends PravegaException {
    private static final long serialVersionUID = 1L;

    private final String code;

    public ControllerException(String message, String code, Throwable cause) {
        super(message, cause);
        this.code = code;
    }

    public ControllerException(String message, String code) {
        super(message);
        this.code = code;
    }

    /** The gRPC status code name or the reply status that caused the failure. */
    public String getCode() {
        return code;
    }
}
