"""Mooncake Store's error codes (mooncake-store/include/types.h) as ferry.mooncake answers them,
and the Ferry sidecar statuses (docs/protocol.md) they stand for."""

OK = 0
INTERNAL_ERROR = -1
BUFFER_OVERFLOW = -10
NO_AVAILABLE_HANDLE = -200
INVALID_PARAMS = -600
OBJECT_NOT_FOUND = -704
OBJECT_ALREADY_EXISTS = -705
OBJECT_HAS_LEASE = -706
TRANSFER_FAIL = -800
RPC_FAIL = -900
UNAVAILABLE_IN_CURRENT_STATUS = -1010
UNAVAILABLE_IN_CURRENT_MODE = -1011  # what Ferry does not offer (docs/integration.md)
FILE_NOT_FOUND = -1100

# Ferry sidecar status (docs/protocol.md) -> Mooncake error code.
STATUS_CODES = {6: OBJECT_NOT_FOUND, 7: INVALID_PARAMS, 8: INVALID_PARAMS, 9: BUFFER_OVERFLOW,
                10: INVALID_PARAMS, 11: NO_AVAILABLE_HANDLE, 14: TRANSFER_FAIL,
                15: UNAVAILABLE_IN_CURRENT_STATUS}


class Failed(Exception):
    """A call that ends with a Mooncake error code."""

    def __init__(self, code):
        super().__init__(code)
        self.code = code
