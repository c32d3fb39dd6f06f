/**
 * The control-plane RPC of Ferry's processes (master, store nodes, prefill, decode):
 * length-prefixed request/answer frames over TCP on Netty. Block bytes never travel here;
 * they go through the transfer engine.
 *
 * <pre>
 * offset size field
 *  0     4    frame length: bytes after this field
 *  4     1    kind: 0 request, 1 answer, 2 error answer
 *  5     8    call id, echoed in the answer
 * 13     2    method
 * 15     8    epoch: in an answer, the server's (0 but for a master elected through etcd);
 *             in a request, the highest its client has seen
 * 23     ...  payload (error answers: status code u16, then UTF-8 text u16-length-prefixed)
 * </pre>
 */
package dev.ferry.store.rpc;
