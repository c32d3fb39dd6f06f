/**
 * The TCP transport on Netty (epoll where available): every connection to a peer is one
 * link. Frames are described in {@link dev.ferry.transfer.transport.frame.SliceFrame}.
 */
package dev.ferry.transfer.transport.tcp;
