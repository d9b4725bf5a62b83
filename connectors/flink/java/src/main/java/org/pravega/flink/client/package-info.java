/**
 * Internal: the connector's own Pravega client. Not an API; it changes with the connector.
 *
 * <p>A small second Pravega client in Java (controller gRPC over the gRPC copy vendored in
 * flink-python, and the segment store's wire protocol, version 15), so that the Flink source and
 * sink run inside the JVM with checkpoint hooks, without a Python process and without the official
 * Java client (which cannot be fetched in this project's offline build, and would bring its own
 * gRPC, Netty and protobuf into Flink's class path). It does only what the connector needs: append blocks and
 * transactions, segment reads, segment info, stream metadata and scaling from the controller.
 *
 * <p>Its frames are checked against the Python codec ({@code pravega.protocol}) by
 * {@code tests/e2e/flink/test_flink_wire_golden.py}; see {@code docs/architecture.md}.
 */
package org.pravega.flink.client;
