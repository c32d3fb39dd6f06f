/**
 * The Aeron UDP transport: one embedded media driver per engine (SHARED threading), one
 * subscription where the engine receives requests and answers, and one publication per
 * peer endpoint, which is one link. Messages carry the same slice frames as TCP.
 */
package dev.ferry.transfer.transport.aeron;
