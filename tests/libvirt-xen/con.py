#!/usr/bin/env python3
"""con.py: drives a dom0 shell behind QEMU's serial console (a unix socket).

con.py SOCK TIMEOUT CMD...   runs CMD in the shell, prints its output, exits with its
                             status (124 when TIMEOUT seconds pass first)
con.py SOCK --wait REGEX TIMEOUT
                             waits until the console log (SOCK without .sock, plus
                             -console.log) matches REGEX; prints the match

The command is typed in small pieces (a fast burst overruns the emulated UART)
between echoes of two unique markers, the second with the status: the output is
what the console shows between the two.
SPDX-License-Identifier: LGPL-2.1-or-later
"""
import re
import socket
import sys
import time


def wait_log(sock, regex, timeout):
    log = sock[:-len('.sock')] + '-console.log'
    rx = re.compile(regex)
    end = time.time() + timeout
    while time.time() < end:
        try:
            with open(log, errors='replace') as f:
                m = rx.search(f.read())
            if m:
                print(m.group(0))
                return 0
        except FileNotFoundError:
            pass
        time.sleep(0.5)
    return 124


def run(sock, timeout, cmd):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    s.settimeout(0.5)
    tag = 'L%d' % (time.time() * 1000 % 100000000)
    # The output is what comes between two markers the shell prints; each is
    # split in the typed line, so that the line's echo (which the console may
    # wrap anywhere) never matches.
    line = 'echo "__LVX""BEGIN_%s"; %s; echo "__LVX""END_%s $?"\n' % (tag, cmd, tag)
    for i in range(0, len(line), 16):
        s.sendall(line[i:i + 16].encode())
        time.sleep(0.03)
    rx_begin = re.compile(rb'__LVXBEGIN_' + tag.encode() + rb'\r*\n')
    rx = re.compile(rb'__LVXEND_' + tag.encode() + rb' (\d+)')
    buf = b''
    end = time.time() + timeout
    while time.time() < end:
        try:
            d = s.recv(65536)
        except socket.timeout:
            continue
        if not d:
            break
        buf += d
        m = rx.search(buf)
        if m:
            b = rx_begin.search(buf, 0, m.start())
            out = buf[b.end() if b else 0:m.start()]
            sys.stdout.write(out.decode(errors='replace').replace('\r', ''))
            return int(m.group(1))
    sys.stdout.write(buf.decode(errors='replace').replace('\r', ''))
    print('\ncon.py: no answer within %ss' % timeout)
    return 124


if __name__ == '__main__':
    if len(sys.argv) == 5 and sys.argv[2] == '--wait':
        sys.exit(wait_log(sys.argv[1], sys.argv[3], float(sys.argv[4])))
    if len(sys.argv) < 4:
        sys.stderr.write(__doc__)
        sys.exit(2)
    sys.exit(run(sys.argv[1], float(sys.argv[2]), ' '.join(sys.argv[3:])))
