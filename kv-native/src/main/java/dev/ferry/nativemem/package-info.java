/** Off-heap memory and devices. */
package dev.ferry.nativemem;
