package org.pravega.flink.util;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;

import org.apache.flink.annotation.Internal;
import org.apache.flink.core.io.SimpleVersionedSerializer;

/**
 * The scaffolding every state serializer of the connector shares: one version, the fields written
 * with a {@link DataOutputStream}, and a clear refusal of any other version. A subclass writes and
 * reads the fields; when a format changes, it raises {@link #getVersion()} and reads the old
 * versions in {@link #read(int, DataInputStream)}.
 */
@Internal
public abstract class DataSerializer<T> implements SimpleVersionedSerializer<T> {
    private final String what;
    private final int version;
    private final int sizeHint;

    protected DataSerializer(String what, int version, int sizeHint) {
        this.what = what;
        this.version = version;
        this.sizeHint = sizeHint;
    }

    /** Writes the fields of {@code value}. */
    protected abstract void write(T value, DataOutputStream out) throws IOException;

    /** Reads a value written in {@code version} (one this serializer accepts). */
    protected abstract T read(int version, DataInputStream in) throws IOException;

    /** True for the versions {@link #read} understands (by default only the current one). */
    protected boolean reads(int version) {
        return version == this.version;
    }

    @Override
    public final int getVersion() {
        return version;
    }

    @Override
    public final byte[] serialize(T value) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(sizeHint);
        DataOutputStream out = new DataOutputStream(bytes);
        write(value, out);
        out.flush();
        return bytes.toByteArray();
    }

    @Override
    public final T deserialize(int version, byte[] serialized) throws IOException {
        if (!reads(version)) {
            throw new IOException("unknown " + what + " serializer version " + version
                    + " (this connector reads version " + this.version + ")");
        }
        return read(version, new DataInputStream(new ByteArrayInputStream(serialized)));
    }
}
