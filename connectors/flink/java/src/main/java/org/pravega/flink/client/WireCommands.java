package org.pravega.flink.client;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;

import org.apache.flink.annotation.Internal;

/**
 * Encoders for the segment-store requests the connector sends and a decoder for the replies it
 * understands (spec §2). Every frame is {@code type:i32, length:i32, payload}, big-endian; strings
 * are Java {@code writeUTF}; UUIDs are two longs; byte buffers are {@code i32 length + bytes}.
 */
@Internal
public final class WireCommands {
    public static final int WIRE_VERSION = 15;
    public static final int OLDEST_COMPATIBLE_VERSION = 5;
    /** Header plus payload must fit this (the Java server's frame decoder limit). */
    public static final int MAX_FRAME = 0x00FFFFFF;
    public static final int HEADER = 8;

    public static final int HELLO = -127;
    public static final int SETUP_APPEND = 1;
    public static final int APPEND_SETUP = 2;
    public static final int APPEND_BLOCK_END = 4;
    public static final int DATA_APPENDED = 7;
    public static final int CONDITIONAL_CHECK_FAILED = 8;
    public static final int READ_SEGMENT = 9;
    public static final int SEGMENT_READ = 10;
    public static final int GET_STREAM_SEGMENT_INFO = 11;
    public static final int STREAM_SEGMENT_INFO = 12;
    public static final int WRONG_HOST = 50;
    public static final int SEGMENT_IS_SEALED = 51;
    public static final int SEGMENT_ALREADY_EXISTS = 52;
    public static final int NO_SUCH_SEGMENT = 53;
    public static final int INVALID_EVENT_NUMBER = 55;
    public static final int SEGMENT_IS_TRUNCATED = 56;
    public static final int OPERATION_UNSUPPORTED = 57;
    public static final int AUTH_TOKEN_CHECK_FAILED = 60;
    public static final int ERROR_MESSAGE = 61;
    public static final int KEEP_ALIVE = 100;

    /** Event framing inside appended data: type 0 + length, then the event's bytes. */
    public static final int EVENT_TYPE = 0;
    public static final int EVENT_HEADER = 8;

    private WireCommands() {}

    public static String name(int type) {
        switch (type) {
            case HELLO: return "Hello";
            case APPEND_SETUP: return "AppendSetup";
            case DATA_APPENDED: return "DataAppended";
            case CONDITIONAL_CHECK_FAILED: return "ConditionalCheckFailed";
            case SEGMENT_READ: return "SegmentRead";
            case STREAM_SEGMENT_INFO: return "StreamSegmentInfo";
            case WRONG_HOST: return "WrongHost";
            case SEGMENT_IS_SEALED: return "SegmentIsSealed";
            case SEGMENT_ALREADY_EXISTS: return "SegmentAlreadyExists";
            case NO_SUCH_SEGMENT: return "NoSuchSegment";
            case INVALID_EVENT_NUMBER: return "InvalidEventNumber";
            case SEGMENT_IS_TRUNCATED: return "SegmentIsTruncated";
            case OPERATION_UNSUPPORTED: return "OperationUnsupported";
            case AUTH_TOKEN_CHECK_FAILED: return "AuthTokenCheckFailed";
            case ERROR_MESSAGE: return "ErrorMessage";
            case KEEP_ALIVE: return "KeepAlive";
            default: return "Command(" + type + ")";
        }
    }

    // -- requests -----------------------------------------------------------------------------

    /** Accumulates one frame; {@link #frame()} fills in the length. */
    static final class FrameBuilder {
        private final ByteArrayOutputStream bytes;
        final DataOutputStream out;

        FrameBuilder(int type, int sizeHint) {
            bytes = new ByteArrayOutputStream(HEADER + sizeHint);
            out = new DataOutputStream(bytes);
            try {
                out.writeInt(type);
                out.writeInt(0);
            } catch (IOException e) {
                throw new AssertionError(e);
            }
        }

        byte[] frame() {
            byte[] frame = bytes.toByteArray();
            int length = frame.length - HEADER;
            if (frame.length > MAX_FRAME) {
                throw new IllegalArgumentException("frame of " + frame.length + " bytes exceeds " + MAX_FRAME);
            }
            frame[4] = (byte) (length >>> 24);
            frame[5] = (byte) (length >>> 16);
            frame[6] = (byte) (length >>> 8);
            frame[7] = (byte) length;
            return frame;
        }
    }

    public static byte[] hello() {
        FrameBuilder f = new FrameBuilder(HELLO, 8);
        try {
            f.out.writeInt(WIRE_VERSION);
            f.out.writeInt(OLDEST_COMPATIBLE_VERSION);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        return f.frame();
    }

    public static byte[] setupAppend(long requestId, long writerHigh, long writerLow, String segment) {
        return setupAppend(requestId, writerHigh, writerLow, segment, "");
    }

    /** With a delegation token (see {@link ControllerClient#tokenFor}). */
    public static byte[] setupAppend(long requestId, long writerHigh, long writerLow, String segment, String token) {
        FrameBuilder f = new FrameBuilder(SETUP_APPEND, 32 + segment.length() + token.length());
        try {
            f.out.writeLong(requestId);
            f.out.writeLong(writerHigh);
            f.out.writeLong(writerLow);
            f.out.writeUTF(segment);
            f.out.writeUTF(token);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        return f.frame();
    }

    public static byte[] readSegment(String segment, long offset, int suggestedLength, long requestId) {
        return readSegment(segment, offset, suggestedLength, requestId, "");
    }

    public static byte[] readSegment(String segment, long offset, int suggestedLength, long requestId, String token) {
        FrameBuilder f = new FrameBuilder(READ_SEGMENT, 32 + segment.length() + token.length());
        try {
            f.out.writeUTF(segment);
            f.out.writeLong(offset);
            f.out.writeInt(suggestedLength);
            f.out.writeUTF(token);
            f.out.writeLong(requestId);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        return f.frame();
    }

    public static byte[] getStreamSegmentInfo(long requestId, String segment) {
        return getStreamSegmentInfo(requestId, segment, "");
    }

    public static byte[] getStreamSegmentInfo(long requestId, String segment, String token) {
        FrameBuilder f = new FrameBuilder(GET_STREAM_SEGMENT_INFO, 16 + segment.length() + token.length());
        try {
            f.out.writeLong(requestId);
            f.out.writeUTF(segment);
            f.out.writeUTF(token);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        return f.frame();
    }

    /** The fixed part of an AppendBlockEnd frame; the block data follows it directly. */
    public static byte[] appendBlockEndHeader(long writerHigh, long writerLow, int dataLength) {
        byte[] h = new byte[HEADER + 16 + 4 + 4];
        int payload = 16 + 4 + 4 + dataLength + 4 + 8 + 8;
        if (HEADER + payload > MAX_FRAME) {
            throw new IllegalArgumentException("append block of " + dataLength + " bytes is too large");
        }
        putInt(h, 0, APPEND_BLOCK_END);
        putInt(h, 4, payload);
        putLong(h, 8, writerHigh);
        putLong(h, 16, writerLow);
        putInt(h, 24, dataLength); // sizeOfWholeEvents: the whole block holds whole events
        putInt(h, 28, dataLength); // BUF length
        return h;
    }

    /** The trailer of an AppendBlockEnd frame: numEvents, lastEventNumber, requestId. */
    public static byte[] appendBlockEndTrailer(int numEvents, long lastEventNumber, long requestId) {
        byte[] t = new byte[20];
        putInt(t, 0, numEvents);
        putLong(t, 4, lastEventNumber);
        putLong(t, 12, requestId);
        return t;
    }

    static void putInt(byte[] b, int at, int v) {
        b[at] = (byte) (v >>> 24);
        b[at + 1] = (byte) (v >>> 16);
        b[at + 2] = (byte) (v >>> 8);
        b[at + 3] = (byte) v;
    }

    static void putLong(byte[] b, int at, long v) {
        putInt(b, at, (int) (v >>> 32));
        putInt(b, at + 4, (int) v);
    }

    public static int getInt(byte[] b, int at) {
        return ((b[at] & 0xFF) << 24) | ((b[at + 1] & 0xFF) << 16) | ((b[at + 2] & 0xFF) << 8) | (b[at + 3] & 0xFF);
    }

    // -- replies ------------------------------------------------------------------------------

    /** Decodes one reply payload. Unknown types are a protocol error. */
    public static Reply decode(int type, byte[] payload) {
        DataInputStream in = new DataInputStream(new ByteArrayInputStream(payload));
        Reply r = new Reply(type);
        try {
            switch (type) {
                case HELLO:
                    r.highVersion = in.readInt();
                    r.lowVersion = in.readInt();
                    r.requestId = 0;
                    break;
                case APPEND_SETUP:
                    r.requestId = in.readLong();
                    r.segment = in.readUTF();
                    r.writerIdHigh = in.readLong();
                    r.writerIdLow = in.readLong();
                    r.eventNumber = in.readLong();
                    break;
                case DATA_APPENDED:
                    r.writerIdHigh = in.readLong();
                    r.writerIdLow = in.readLong();
                    r.eventNumber = in.readLong();
                    r.previousEventNumber = optionalLong(in, Long.MIN_VALUE);
                    r.requestId = optionalLong(in, -1);
                    r.writeOffset = optionalLong(in, -1);
                    break;
                case CONDITIONAL_CHECK_FAILED:
                    r.writerIdHigh = in.readLong();
                    r.writerIdLow = in.readLong();
                    r.eventNumber = in.readLong();
                    r.requestId = optionalLong(in, -1);
                    break;
                case SEGMENT_READ: {
                    r.segment = in.readUTF();
                    r.offset = in.readLong();
                    r.atTail = in.readBoolean();
                    r.endOfSegment = in.readBoolean();
                    int len = in.readInt();
                    if (len < 0 || len > payload.length) {
                        throw new ProtocolException("SegmentRead: bad data length " + len);
                    }
                    // Keep the payload and point into it: no copy of the (large) read data.
                    r.data = payload;
                    r.dataOffset = payload.length - in.available();
                    r.dataLength = len;
                    if (in.skip(len) != len) {
                        throw new EOFException();
                    }
                    r.requestId = optionalLong(in, -1);
                    break;
                }
                case STREAM_SEGMENT_INFO:
                    r.requestId = in.readLong();
                    r.segment = in.readUTF();
                    r.exists = in.readBoolean();
                    r.sealed = in.readBoolean();
                    r.deleted = in.readBoolean();
                    in.readLong(); // last modified
                    r.writeOffset = in.readLong();
                    r.startOffset = optionalLong(in, 0);
                    break;
                case WRONG_HOST:
                    r.requestId = in.readLong();
                    r.segment = in.readUTF();
                    r.message = "wrong host; correct host: " + in.readUTF();
                    break;
                case SEGMENT_IS_SEALED:
                case NO_SUCH_SEGMENT:
                    r.requestId = in.readLong();
                    r.segment = in.readUTF();
                    r.message = optionalUtf(in);
                    r.offset = optionalLong(in, -1);
                    break;
                case SEGMENT_ALREADY_EXISTS:
                    r.requestId = in.readLong();
                    r.segment = in.readUTF();
                    r.message = optionalUtf(in);
                    break;
                case INVALID_EVENT_NUMBER:
                    r.writerIdHigh = in.readLong();
                    r.writerIdLow = in.readLong();
                    r.message = "invalid event number";
                    break;
                case SEGMENT_IS_TRUNCATED:
                    r.requestId = in.readLong();
                    r.segment = in.readUTF();
                    r.startOffset = in.readLong();
                    r.message = optionalUtf(in);
                    r.offset = optionalLong(in, -1);
                    break;
                case OPERATION_UNSUPPORTED:
                    r.requestId = in.readLong();
                    r.message = "operation unsupported: " + in.readUTF();
                    break;
                case AUTH_TOKEN_CHECK_FAILED:
                    r.requestId = in.readLong();
                    r.message = "authentication failed: " + optionalUtf(in);
                    break;
                case ERROR_MESSAGE:
                    r.requestId = in.readLong();
                    r.segment = in.readUTF();
                    r.message = in.readUTF();
                    r.errorCode = in.available() >= 4 ? in.readInt() : -1;
                    break;
                case KEEP_ALIVE:
                    break;
                default:
                    throw new ProtocolException("unexpected reply type " + type);
            }
        } catch (EOFException e) {
            throw new ProtocolException(name(type) + ": truncated payload of " + payload.length + " bytes");
        } catch (IOException e) {
            throw new ProtocolException(name(type) + ": " + e);
        }
        return r;
    }

    private static long optionalLong(DataInputStream in, long absent) throws IOException {
        return in.available() >= 8 ? in.readLong() : absent;
    }

    private static String optionalUtf(DataInputStream in) throws IOException {
        return in.available() >= 2 ? in.readUTF() : "";
    }
}
