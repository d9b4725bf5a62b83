package org.pravega.flink.client;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Checks the connector's wire codec against frames made by the Python codec
 * ({@code tests/e2e/flink/test_flink_wire_golden.py} drives it over stdin/stdout, one line each).
 *
 * <ul>
 *   <li>{@code reply <hex frame>}: decodes the frame with {@link WireCommands#decode}, re-encodes
 *       the decoded {@link Reply} in the v15 layout and answers {@code <hex>\t<fields>}, where the
 *       fields are what the connector kept ({@code name=value}, tab-separated);</li>
 *   <li>{@code request <command> <args...>}: encodes a request with {@link WireCommands} and
 *       answers its hex frame.</li>
 * </ul>
 */
public final class WireGolden {
    private WireGolden() {}

    public static void main(String[] args) throws IOException {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isEmpty()) {
                continue;
            }
            String[] parts = line.split(" ");
            String answer;
            try {
                answer = "reply".equals(parts[0]) ? reply(unhex(parts[1])) : request(parts);
            } catch (RuntimeException e) {
                answer = "ERROR " + e;
            }
            System.out.println(answer);
            System.out.flush();
        }
    }

    private static String request(String[] p) {
        switch (p[1]) {
            case "Hello":
                return hex(WireCommands.hello());
            case "SetupAppend":
                return hex(WireCommands.setupAppend(Long.parseLong(p[2]), Long.parseLong(p[3]), Long.parseLong(p[4]),
                        utf(p[5])));
            case "ReadSegment":
                return hex(WireCommands.readSegment(utf(p[2]), Long.parseLong(p[3]), Integer.parseInt(p[4]),
                        Long.parseLong(p[5])));
            case "GetStreamSegmentInfo":
                return hex(WireCommands.getStreamSegmentInfo(Long.parseLong(p[2]), utf(p[3])));
            case "AppendBlockEnd": {
                byte[] data = unhex(p[7]);
                byte[] head = WireCommands.appendBlockEndHeader(Long.parseLong(p[2]), Long.parseLong(p[3]), data.length);
                byte[] tail = WireCommands.appendBlockEndTrailer(Integer.parseInt(p[4]), Long.parseLong(p[5]),
                        Long.parseLong(p[6]));
                byte[] all = Arrays.copyOf(head, head.length + data.length + tail.length);
                System.arraycopy(data, 0, all, head.length, data.length);
                System.arraycopy(tail, 0, all, head.length + data.length, tail.length);
                return hex(all);
            }
            default:
                throw new IllegalArgumentException("unknown request " + p[1]);
        }
    }

    private static String reply(byte[] frame) throws IOException {
        int type = WireCommands.getInt(frame, 0);
        int length = WireCommands.getInt(frame, 4);
        if (length != frame.length - WireCommands.HEADER) {
            throw new IllegalArgumentException("frame length " + length + " for " + frame.length + " bytes");
        }
        Reply r = WireCommands.decode(type, Arrays.copyOfRange(frame, WireCommands.HEADER, frame.length));
        return hex(encode(r)) + "\t" + fields(r);
    }

    /** The reply in Pravega's v15 layout, from the fields the connector kept (fields it ignores are defaults). */
    private static byte[] encode(Reply r) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(bytes);
        switch (r.type) {
            case WireCommands.HELLO:
                out.writeInt(r.highVersion);
                out.writeInt(r.lowVersion);
                break;
            case WireCommands.APPEND_SETUP:
                out.writeLong(r.requestId);
                out.writeUTF(r.segment);
                out.writeLong(r.writerIdHigh);
                out.writeLong(r.writerIdLow);
                out.writeLong(r.eventNumber);
                break;
            case WireCommands.DATA_APPENDED:
                out.writeLong(r.writerIdHigh);
                out.writeLong(r.writerIdLow);
                out.writeLong(r.eventNumber);
                out.writeLong(r.previousEventNumber);
                out.writeLong(r.requestId);
                out.writeLong(r.writeOffset);
                break;
            case WireCommands.CONDITIONAL_CHECK_FAILED:
                out.writeLong(r.writerIdHigh);
                out.writeLong(r.writerIdLow);
                out.writeLong(r.eventNumber);
                out.writeLong(r.requestId);
                break;
            case WireCommands.SEGMENT_READ:
                out.writeUTF(r.segment);
                out.writeLong(r.offset);
                out.writeBoolean(r.atTail);
                out.writeBoolean(r.endOfSegment);
                out.writeInt(r.dataLength);
                out.write(r.data, r.dataOffset, r.dataLength);
                out.writeLong(r.requestId);
                break;
            case WireCommands.STREAM_SEGMENT_INFO:
                out.writeLong(r.requestId);
                out.writeUTF(r.segment);
                out.writeBoolean(r.exists);
                out.writeBoolean(r.sealed);
                out.writeBoolean(r.deleted);
                out.writeLong(0); // last modified: not kept
                out.writeLong(r.writeOffset);
                out.writeLong(r.startOffset);
                break;
            case WireCommands.WRONG_HOST:
                out.writeLong(r.requestId);
                out.writeUTF(r.segment);
                out.writeUTF(r.message.substring("wrong host; correct host: ".length()));
                out.writeUTF(""); // stack trace: not kept
                break;
            case WireCommands.SEGMENT_IS_SEALED:
            case WireCommands.NO_SUCH_SEGMENT:
                out.writeLong(r.requestId);
                out.writeUTF(r.segment);
                out.writeUTF(r.message);
                out.writeLong(r.offset);
                break;
            case WireCommands.SEGMENT_ALREADY_EXISTS:
                out.writeLong(r.requestId);
                out.writeUTF(r.segment);
                out.writeUTF(r.message);
                break;
            case WireCommands.INVALID_EVENT_NUMBER:
                out.writeLong(r.writerIdHigh);
                out.writeLong(r.writerIdLow);
                out.writeLong(-1); // event number (v15 layout): not kept
                out.writeUTF(""); // stack trace: not kept
                break;
            case WireCommands.SEGMENT_IS_TRUNCATED:
                out.writeLong(r.requestId);
                out.writeUTF(r.segment);
                out.writeLong(r.startOffset);
                out.writeUTF(r.message);
                out.writeLong(r.offset);
                break;
            case WireCommands.OPERATION_UNSUPPORTED:
                out.writeLong(r.requestId);
                out.writeUTF(r.message.substring("operation unsupported: ".length()));
                out.writeUTF(""); // stack trace: not kept
                break;
            case WireCommands.AUTH_TOKEN_CHECK_FAILED:
                out.writeLong(r.requestId);
                out.writeUTF(r.message.substring("authentication failed: ".length()));
                out.writeInt(-1); // error code: not kept
                break;
            case WireCommands.ERROR_MESSAGE:
                out.writeLong(r.requestId);
                out.writeUTF(r.segment);
                out.writeUTF(r.message);
                out.writeInt(r.errorCode);
                break;
            case WireCommands.KEEP_ALIVE:
                break;
            default:
                throw new IllegalArgumentException("no encoder for reply type " + r.type);
        }
        byte[] payload = bytes.toByteArray();
        byte[] frame = new byte[WireCommands.HEADER + payload.length];
        WireCommands.putInt(frame, 0, r.type);
        WireCommands.putInt(frame, 4, payload.length);
        System.arraycopy(payload, 0, frame, WireCommands.HEADER, payload.length);
        return frame;
    }

    private static String fields(Reply r) {
        StringBuilder b = new StringBuilder();
        b.append("type=").append(r.name());
        b.append("\trequestId=").append(r.requestId);
        b.append("\tsegment=").append(hex(r.segment.getBytes(StandardCharsets.UTF_8)));
        b.append("\twriterId=").append(r.writerIdHigh).append(',').append(r.writerIdLow);
        b.append("\teventNumber=").append(r.eventNumber);
        b.append("\tpreviousEventNumber=").append(r.previousEventNumber);
        b.append("\toffset=").append(r.offset);
        b.append("\tatTail=").append(r.atTail);
        b.append("\tendOfSegment=").append(r.endOfSegment);
        b.append("\tdata=").append(r.data == null ? "" : hex(Arrays.copyOfRange(r.data, r.dataOffset,
                r.dataOffset + r.dataLength)));
        b.append("\texists=").append(r.exists);
        b.append("\tsealed=").append(r.sealed);
        b.append("\tdeleted=").append(r.deleted);
        b.append("\twriteOffset=").append(r.writeOffset);
        b.append("\tstartOffset=").append(r.startOffset);
        b.append("\tmessage=").append(hex(r.message.getBytes(StandardCharsets.UTF_8)));
        b.append("\terrorCode=").append(r.errorCode);
        b.append("\thighVersion=").append(r.highVersion);
        b.append("\tlowVersion=").append(r.lowVersion);
        b.append("\terror=").append(r.isError());
        return b.toString();
    }

    /** Arguments that are strings travel as hex of their UTF-8 bytes (no spaces, any text). */
    private static String utf(String hexText) {
        return new String(unhex(hexText), StandardCharsets.UTF_8);
    }

    static String hex(byte[] b) {
        StringBuilder s = new StringBuilder(b.length * 2);
        for (byte x : b) {
            s.append(Character.forDigit((x >> 4) & 0xF, 16)).append(Character.forDigit(x & 0xF, 16));
        }
        return s.toString();
    }

    static byte[] unhex(String s) {
        byte[] out = new byte[s.length() / 2];
        for (int i = 0; i < out.length; i++) {
            out[i] = (byte) Integer.parseInt(s.substring(2 * i, 2 * i + 2), 16);
        }
        return out;
    }
}
