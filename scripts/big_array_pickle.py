"""Writes numpy 2's protocol-4 pickle of a float64 array of SIZE bytes (default 1 GiB) as a
sparse file, without numpy: `_reconstruct(ndarray, (0,), b'b')` + BUILD with the payload in
one BINBYTES8. Used by the benchmarks: the payload must cost nothing to inspect.

    python3 scripts/big_array_pickle.py PATH [SIZE_BYTES]
"""
import struct
import sys

path = sys.argv[1]
size = int(sys.argv[2]) if len(sys.argv) > 2 else 1 << 30
n = size // 8
head = (b'\x80\x04\x8c\x16numpy._core.multiarray\x94\x8c\x0c_reconstruct\x94\x93\x94\x8c\x05numpy\x94'
        b'\x8c\x07ndarray\x94\x93\x94K\x00\x85\x94C\x01b\x94\x87\x94R\x94(K\x01\x8a\x08' + struct.pack('<Q', n) +
        b'\x85\x94h\x03\x8c\x05dtype\x94\x93\x94\x8c\x02f8\x94\x89\x88\x87\x94R\x94(K\x03\x8c\x01<\x94NNN'
        b'J\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t\x94b\x89\x8e' + struct.pack('<Q', n * 8))
with open(path, 'wb') as f:
    f.write(head)
    f.truncate(len(head) + n * 8)
    f.seek(len(head) + n * 8)
    f.write(b'\x94t\x94b.')
