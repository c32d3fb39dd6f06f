/**
 * The Aeron UDP and IPC transport: one media driver per engine (SHARED threading) or one
 * shared by the engines of a host, one subscription where the engine receives requests and
 * answers, and one publication per peer endpoint, which is one link. Two Agrona agents do the
 * work: {@code AeronReceiver} (receipt, serving through the shared slice server, stall checks)
 * and {@code AeronSender} (the one writer of every publication); quarantined links are probed
 * and readmitted ({@code AeronProbe}). Messages carry the same slice frames as TCP.
 */
package dev.ferry.transfer.transport.aeron;
