package org.pravega.flink.client;

import org.apache.flink.annotation.Internal;

/**
 * A decoded segment-store reply. One flat class for the few reply types the connector handles;
 * which fields are set depends on {@link #type} (see {@link WireCommands}).
 */
@Internal
public final class Reply {
    public final int type;
    public long requestId = -1;
    public String segment = "";
    public long writerIdHigh;
    public long writerIdLow;
    /** AppendSetup: last event number; DataAppended: acknowledged event number. */
    public long eventNumber;
    public long previousEventNumber;
    /** SegmentRead / SegmentIsSealed / NoSuchSegment / SegmentIsTruncated: the offset. */
    public long offset;
    public boolean atTail;
    public boolean endOfSegment;
    /** SegmentRead: {@code data[dataOffset, dataOffset + dataLength)} holds the bytes read. */
    public byte[] data;
    public int dataOffset;
    public int dataLength;
    /** StreamSegmentInfo. */
    public boolean exists;
    public boolean sealed;
    public boolean deleted;
    public long writeOffset;
    public long startOffset;
    public String message = "";
    public int errorCode;
    /** Hello. */
    public int highVersion;
    public int lowVersion;

    Reply(int type) {
        this.type = type;
    }

    public String name() {
        return WireCommands.name(type);
    }

    /** True for replies that report an error rather than a result. */
    public boolean isError() {
        switch (type) {
            case WireCommands.WRONG_HOST:
            case WireCommands.SEGMENT_IS_SEALED:
            case WireCommands.NO_SUCH_SEGMENT:
            case WireCommands.INVALID_EVENT_NUMBER:
            case WireCommands.SEGMENT_IS_TRUNCATED:
            case WireCommands.OPERATION_UNSUPPORTED:
            case WireCommands.AUTH_TOKEN_CHECK_FAILED:
            case WireCommands.ERROR_MESSAGE:
            case WireCommands.SEGMENT_ALREADY_EXISTS:
            case WireCommands.CONDITIONAL_CHECK_FAILED:
                return true;
            default:
                return false;
        }
    }

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder(name()).append("(rid=").append(requestId);
        if (!segment.isEmpty()) {
            b.append(", segment=").append(segment);
        }
        if (!message.isEmpty()) {
            b.append(", message=").append(message);
        }
        return b.append(')').toString();
    }
}
