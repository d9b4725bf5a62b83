package org.pravega.flink.client;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

import org.apache.flink.annotation.Internal;

/**
 * A tiny protocol-buffers (proto3) codec for the handful of controller messages the connector
 * exchanges. Generated code is avoided on purpose: the protobuf runtime that ships (vendored) with
 * Flink may not match any generated classes, while the wire format itself is stable.
 *
 * <p>Wire types used: 0 (varint), 1 (fixed64, doubles), 2 (length-delimited: strings, nested
 * messages, packed repeated scalars, map entries) and 5 (fixed32, only skipped).
 */
@Internal
public final class Proto {
    public static final int VARINT = 0;
    public static final int FIXED64 = 1;
    public static final int LENGTH_DELIMITED = 2;
    public static final int FIXED32 = 5;

    private Proto() {}

    /** Builds one message. Scalars equal to their proto3 default are left out, as protoc does. */
    public static final class Writer {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream(64);

        private void tag(int field, int wireType) {
            rawVarint(((long) field << 3) | wireType);
        }

        private void rawVarint(long value) {
            while ((value & ~0x7FL) != 0) {
                out.write((int) ((value & 0x7F) | 0x80));
                value >>>= 7;
            }
            out.write((int) value);
        }

        private void rawBytes(byte[] bytes) {
            rawVarint(bytes.length);
            out.write(bytes, 0, bytes.length);
        }

        /** int64 / int32 / enum / bool: negative values take ten bytes (two's complement). */
        public Writer int64(int field, long value) {
            if (value != 0) {
                tag(field, VARINT);
                rawVarint(value);
            }
            return this;
        }

        public Writer bool(int field, boolean value) {
            return int64(field, value ? 1 : 0);
        }

        public Writer doubleValue(int field, double value) {
            if (value != 0.0 || Double.doubleToRawLongBits(value) != 0) {
                tag(field, FIXED64);
                long bits = Double.doubleToRawLongBits(value);
                for (int i = 0; i < 8; i++) {
                    out.write((int) (bits >>> (8 * i)) & 0xFF);
                }
            }
            return this;
        }

        public Writer string(int field, String value) {
            if (value != null && !value.isEmpty()) {
                tag(field, LENGTH_DELIMITED);
                rawBytes(value.getBytes(StandardCharsets.UTF_8));
            }
            return this;
        }

        /** A nested message; written even when empty, because presence is meaningful. */
        public Writer message(int field, Writer nested) {
            tag(field, LENGTH_DELIMITED);
            rawBytes(nested.toByteArray());
            return this;
        }

        /** One entry of a {@code map<int64, int64>} field. */
        public Writer mapEntry(int field, long key, long value) {
            return message(field, new Writer().int64(1, key).int64(2, value));
        }

        /** A packed {@code repeated int64} field. */
        public Writer packedInt64(int field, long[] values) {
            if (values.length == 0) {
                return this;
            }
            Writer body = new Writer();
            for (long v : values) {
                body.rawVarint(v);
            }
            tag(field, LENGTH_DELIMITED);
            rawBytes(body.toByteArray());
            return this;
        }

        public byte[] toByteArray() {
            return out.toByteArray();
        }
    }

    /** Reads the fields of one message in order: {@code while (r.next()) switch (r.field()) ...}. */
    public static final class Reader {
        private final byte[] buf;
        private int pos;
        private final int end;
        private int field;
        private int wireType;

        public Reader(byte[] buf) {
            this(buf, 0, buf.length);
        }

        private Reader(byte[] buf, int offset, int end) {
            this.buf = buf;
            this.pos = offset;
            this.end = end;
        }

        /** Advances to the next field; false at the end of the message. */
        public boolean next() {
            if (pos >= end) {
                return false;
            }
            long tag = rawVarint();
            field = (int) (tag >>> 3);
            wireType = (int) (tag & 7);
            if (field <= 0) {
                throw new ProtocolException("protobuf: invalid field number " + field);
            }
            return true;
        }

        public int field() {
            return field;
        }

        public int wireType() {
            return wireType;
        }

        private long rawVarint() {
            long result = 0;
            for (int shift = 0; shift < 64; shift += 7) {
                if (pos >= end) {
                    throw new ProtocolException("protobuf: truncated varint");
                }
                byte b = buf[pos++];
                result |= (long) (b & 0x7F) << shift;
                if ((b & 0x80) == 0) {
                    return result;
                }
            }
            throw new ProtocolException("protobuf: varint longer than 10 bytes");
        }

        private void expect(int type) {
            if (wireType != type) {
                throw new ProtocolException(
                        "protobuf: field " + field + " has wire type " + wireType + ", expected " + type);
            }
        }

        public long int64() {
            expect(VARINT);
            return rawVarint();
        }

        public int int32() {
            return (int) int64();
        }

        public boolean bool() {
            return int64() != 0;
        }

        public double doubleValue() {
            expect(FIXED64);
            if (pos + 8 > end) {
                throw new ProtocolException("protobuf: truncated fixed64");
            }
            long bits = 0;
            for (int i = 0; i < 8; i++) {
                bits |= (long) (buf[pos++] & 0xFF) << (8 * i);
            }
            return Double.longBitsToDouble(bits);
        }

        private int length() {
            expect(LENGTH_DELIMITED);
            long len = rawVarint();
            if (len < 0 || pos + len > end) {
                throw new ProtocolException("protobuf: length " + len + " exceeds the message");
            }
            return (int) len;
        }

        public String string() {
            int len = length();
            String s = new String(buf, pos, len, StandardCharsets.UTF_8);
            pos += len;
            return s;
        }

        public Reader message() {
            int len = length();
            Reader nested = new Reader(buf, pos, pos + len);
            pos += len;
            return nested;
        }

        /** A {@code repeated int64} field, packed or not; appends to {@code into}. */
        public void repeatedInt64(List<Long> into) {
            if (wireType == VARINT) {
                into.add(rawVarint());
                return;
            }
            int len = length();
            int stop = pos + len;
            Reader packed = new Reader(buf, pos, stop);
            while (packed.pos < stop) {
                into.add(packed.rawVarint());
            }
            pos = stop;
        }

        /** One entry of a {@code map<int64, int64>}: {key, value}. */
        public long[] int64MapEntry() {
            Reader entry = message();
            long key = 0;
            long value = 0;
            while (entry.next()) {
                if (entry.field() == 1) {
                    key = entry.int64();
                } else if (entry.field() == 2) {
                    value = entry.int64();
                } else {
                    entry.skip();
                }
            }
            return new long[] {key, value};
        }

        public void skip() {
            switch (wireType) {
                case VARINT:
                    rawVarint();
                    break;
                case FIXED64:
                    pos += 8;
                    break;
                case LENGTH_DELIMITED:
                    // Not "pos += length()": that adds to pos as it was before length() read the
                    // length's varint, and lands inside the field.
                    int len = length();
                    pos += len;
                    break;
                case FIXED32:
                    pos += 4;
                    break;
                default:
                    throw new ProtocolException("protobuf: unsupported wire type " + wireType);
            }
            if (pos > end) {
                throw new ProtocolException("protobuf: truncated field " + field);
            }
        }
    }
}
