#!/usr/bin/env python3
# generate.py: writes the sample native streams of this directory (see README.md).
#
# This is a second, independent encoder of docs/stream-format.md: the C decoder is
# tested against files it did not write itself.  Run from anywhere:
#     python3 tests/data/streams/generate.py
# The output is deterministic; commit the .fmstream files with this script.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import hashlib
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

END, PAGE_DATA, CPU_STATE, DEVICE_STATE, STATS, DIGEST, ROUND_END, ABORT, RESULT = range(9)

PAGE_SIZE = 512
PAGE_COUNT = 8


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def header(page_size=PAGE_SIZE, page_count=PAGE_COUNT, version=1, flags=0,
           magic=b"FRAGMIG!", crc=None):
    h = bytearray(magic + struct.pack("<IIIIQII", version, flags, page_size, 0,
                                      page_count, 0, 0))
    if crc is None:
        crc = crc32c(bytes(h))
    struct.pack_into("<I", h, 32, crc)
    return bytes(h)


def record(rtype, body, length=None, pad_byte=0):
    if length is None:
        length = len(body)
    pad = (-len(body)) % 8
    return struct.pack("<II", rtype, length) + body + bytes([pad_byte]) * pad


def page(pfn):
    # Page pfn is filled with the byte (pfn * 37 + 1) & 0xff.
    return bytes([(pfn * 37 + 1) & 0xFF]) * PAGE_SIZE


def page_data(pfns, count=None, reserved=0):
    if count is None:
        count = len(pfns)
    body = struct.pack("<II", count, reserved)
    body += b"".join(struct.pack("<Q", p) for p in pfns)
    body += b"".join(page(p) for p in pfns)
    return record(PAGE_DATA, body)


def memory_digest(sent):
    memory = b"".join(page(p) if p in sent else bytes(PAGE_SIZE) for p in range(PAGE_COUNT))
    return hashlib.sha256(memory).digest()


def digest_record(sent):
    return record(DIGEST, struct.pack("<II", 1, 32) + memory_digest(sent))


def valid_body():
    return (page_data([0, 3]) +
            record(ROUND_END, struct.pack("<II", 0, 0)) +
            page_data([7, 3]) +
            record(CPU_STATE, b"vcpu0") +
            record(STATS, b"memory_iteration=2\npages_sent=4\n") +
            digest_record({0, 3, 7}))


STREAMS = {
    # A complete, valid stream: pages 0, 3 and 7 sent (3 twice), digest, END.
    "valid.fmstream": header() + valid_body() + record(END, b""),
    # The source gave up: ABORT with its reason.
    "aborted.fmstream": header() + page_data([1]) + record(ABORT, b"cancelled by the user"),
    # Not a fragmig stream at all.
    "not-a-stream.fmstream": b"This is a text file, not a migration stream.\n",
    # Magic of a different (byte-swapped) writer.
    "byte-swapped-magic.fmstream": header(magic=b"!GIMGARF") + record(END, b""),
    "version-2.fmstream": header(version=2) + record(END, b""),
    # page_count changed after the CRC was computed.
    "bad-crc.fmstream": header(page_count=9, crc=crc32c(header()[:32] + bytes(8)))
                        + record(END, b""),
    "page-size-3000.fmstream": header(page_size=3000) + record(END, b""),
    # 2^40 pages of 64 KiB: 64 PiB, beyond any destination.
    "guest-too-large.fmstream": header(page_size=65536, page_count=1 << 40)
                                + record(END, b""),
    # Cut in the middle of the second page of the first PAGE_DATA record.
    "truncated-page-data.fmstream": (header() + page_data([0, 3]))[:40 + 8 + 24 + 700],
    # A CPU_STATE record claiming a 4 GiB - 1 body.
    "oversized-length.fmstream": header() + struct.pack("<II", CPU_STATE, 0xFFFFFFFF)
                                 + b"x" * 8,
    # A PAGE_DATA record claiming 2^32 - 1 pages in a 16-byte body.
    "huge-count.fmstream": header() + record(PAGE_DATA, struct.pack("<IIQ", 0xFFFFFFFF, 0, 0)),
    # Two pages announced, one page of data.
    "count-length-mismatch.fmstream": header() + record(
        PAGE_DATA, struct.pack("<IIQQ", 2, 0, 0, 1) + page(0)),
    "pfn-out-of-range.fmstream": header() + page_data([2, 8]) + record(END, b""),
    "unknown-type.fmstream": header() + record(0x42, b"?") + record(END, b""),
    "result-in-stream.fmstream": header() + record(RESULT, struct.pack("<II", 0, 0))
                                 + record(END, b""),
    "nonzero-padding.fmstream": header() + record(CPU_STATE, b"vcpu0", pad_byte=0xAA)
                                + record(END, b""),
    "two-digests.fmstream": header() + digest_record(set()) + digest_record(set())
                            + record(END, b""),
    "bad-utf8-abort.fmstream": header() + record(ABORT, b"caf\xe9"),
    "trailing-after-end.fmstream": header() + record(END, b"") + b"\0" * 8,
    # Valid records, but the stream stops without END.
    "no-end.fmstream": header() + valid_body(),
}


def main():
    for name, data in sorted(STREAMS.items()):
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
