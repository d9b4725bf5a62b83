package org.pravega.flink.client;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

import javax.net.ssl.SSLException;

import org.apache.beam.vendor.grpc.v1p60p1.io.grpc.CallOptions;
import org.apache.beam.vendor.grpc.v1p60p1.io.grpc.Channel;
import org.apache.beam.vendor.grpc.v1p60p1.io.grpc.ClientInterceptors;
import org.apache.beam.vendor.grpc.v1p60p1.io.grpc.ManagedChannel;
import org.apache.beam.vendor.grpc.v1p60p1.io.grpc.Metadata;
import org.apache.beam.vendor.grpc.v1p60p1.io.grpc.MethodDescriptor;
import org.apache.beam.vendor.grpc.v1p60p1.io.grpc.Status;
import org.apache.beam.vendor.grpc.v1p60p1.io.grpc.StatusRuntimeException;
import org.apache.beam.vendor.grpc.v1p60p1.io.grpc.netty.GrpcSslContexts;
import org.apache.beam.vendor.grpc.v1p60p1.io.grpc.netty.NettyChannelBuilder;
import org.apache.beam.vendor.grpc.v1p60p1.io.grpc.stub.ClientCalls;
import org.apache.beam.vendor.grpc.v1p60p1.io.grpc.stub.MetadataUtils;
import org.apache.beam.vendor.grpc.v1p60p1.io.netty.handler.ssl.SslContextBuilder;
import org.apache.flink.annotation.Internal;

/**
 * Unary gRPC calls carrying raw protobuf bytes. This is the only class that touches gRPC; it uses
 * the copy vendored by Beam inside {@code flink-python} (present on every PyFlink job's class
 * path), so the connector jar has no dependencies of its own. The vendored package name is tied
 * to the Flink release; {@link #checkAvailable()} turns a mismatch into a clear error.
 */
@Internal
final class GrpcTransport implements AutoCloseable {
    static final String VENDOR_PACKAGE = "org.apache.beam.vendor.grpc.v1p60p1.io.grpc";
    private static final String SERVICE = "io.pravega.controller.stream.api.grpc.v1.ControllerService";

    private static final MethodDescriptor.Marshaller<byte[]> BYTES = new MethodDescriptor.Marshaller<byte[]>() {
        @Override
        public InputStream stream(byte[] value) {
            return new ByteArrayInputStream(value);
        }

        @Override
        public byte[] parse(InputStream stream) {
            try {
                return stream.readAllBytes();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    };

    private final ManagedChannel channel;
    /** The channel calls go through: with credentials, it adds the authorization header. */
    private final Channel calls;
    private final ConcurrentHashMap<String, MethodDescriptor<byte[], byte[]>> methods = new ConcurrentHashMap<>();

    static void checkAvailable() {
        try {
            Class.forName(VENDOR_PACKAGE + ".netty.NettyChannelBuilder", false, GrpcTransport.class.getClassLoader());
        } catch (ClassNotFoundException e) {
            throw new PravegaException("the Pravega connector reaches the controller through the gRPC copy vendored"
                    + " in flink-python (" + VENDOR_PACKAGE + "), which is not on the class path: this Flink"
                    + " version is not supported (the connector is built for Flink 2.3)", e);
        }
    }

    GrpcTransport(Endpoint endpoint) {
        this(endpoint, ClientSecurity.fromUri("tcp://" + endpoint));
    }

    GrpcTransport(Endpoint endpoint, ClientSecurity security) {
        checkAvailable();
        NettyChannelBuilder builder = NettyChannelBuilder.forAddress(endpoint.getHost(), endpoint.getPort())
                .maxInboundMessageSize(64 << 20);
        if (security.isTls()) {
            try {
                SslContextBuilder ssl = GrpcSslContexts.forClient();
                ssl.trustManager(security.trustManagers()[0]);
                builder.sslContext(ssl.build());
            } catch (SSLException e) {
                throw new PravegaException("cannot set up TLS to the controller " + endpoint + ": " + e, e);
            }
        } else {
            builder.usePlaintext();
        }
        this.channel = builder.build();
        String authorization = security.authorizationHeader();
        if (authorization == null) {
            this.calls = channel;
        } else {
            Metadata headers = new Metadata();
            headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), authorization);
            this.calls = ClientInterceptors.intercept(channel, MetadataUtils.newAttachHeadersInterceptor(headers));
        }
    }

    private MethodDescriptor<byte[], byte[]> method(String name) {
        return methods.computeIfAbsent(name, n -> MethodDescriptor.<byte[], byte[]>newBuilder()
                .setType(MethodDescriptor.MethodType.UNARY)
                .setFullMethodName(MethodDescriptor.generateFullMethodName(SERVICE, n))
                .setRequestMarshaller(BYTES)
                .setResponseMarshaller(BYTES)
                .build());
    }

    /**
     * Calls {@code rpc} and returns the reply bytes. Transport-level failures become
     * {@link RetriableException} (UNAVAILABLE, DEADLINE_EXCEEDED, ...) or
     * {@link ControllerException} (the controller rejected the request).
     */
    byte[] call(String rpc, byte[] request, long timeoutMillis) {
        try {
            return ClientCalls.blockingUnaryCall(calls, method(rpc),
                    CallOptions.DEFAULT.withDeadlineAfter(timeoutMillis, TimeUnit.MILLISECONDS), request);
        } catch (StatusRuntimeException e) {
            Status.Code code = e.getStatus().getCode();
            String what = rpc + " failed: " + code + (e.getStatus().getDescription() == null ? ""
                    : " (" + e.getStatus().getDescription() + ")");
            switch (code) {
                case UNAVAILABLE:
                case DEADLINE_EXCEEDED:
                case RESOURCE_EXHAUSTED:
                case ABORTED:
                case UNKNOWN:
                case INTERNAL:
                case CANCELLED:
                    throw new RetriableException(what, e);
                default:
                    throw new ControllerException(what, code.name(), e);
            }
        }
    }

    @Override
    public void close() {
        channel.shutdownNow();
        try {
            channel.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
