/** The slice frame format shared by the network transports, and its parsing. */
package dev.ferry.transfer.transport.frame;
