/** The transport SPI: a link moves slices to one peer and reports each outcome. */
package dev.ferry.transfer.transport;
