#!/usr/bin/env python3
# pty-run.py: runs a command with its stderr on a terminal of a given width, and
# checks what that terminal would show.
#
#   pty-run.py COLUMNS OUT ERR -- COMMAND [ARG]...
#
# COMMAND runs with stdout to the file OUT and stdin and stderr on a new pseudo-
# terminal of COLUMNS columns (TERM=xterm); the bytes it writes there are saved in ERR.
# They are then played on a small model of a terminal: printable characters advance
# the cursor (two columns for wide ones), "\r" returns, "\n" starts a line, ESC [ K
# clears to the end of the line.  Prints, one per line, "lines N" (the lines left on
# the screen with any text), "rewrites N" (the ESC [ K seen), "longest N" (the widest
# line ever drawn) and "wrapped N" (the characters written past the last column,
# which a real terminal would wrap: debris).  Then "left TEXT": what the last line
# holds at the end (empty: no half-written status line is left).  Exits with
# COMMAND's status.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import fcntl
import os
import struct
import subprocess
import sys
import termios
import unicodedata


def width_of(ch):
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def play(data, columns):
    """Plays @data (str) on a terminal of @columns; returns the statistics."""
    screen = [[]]
    col = 0
    rewrites = longest = wrapped = 0
    i = 0
    while i < len(data):
        ch = data[i]
        if data.startswith("\033[K", i):
            del screen[-1][col:]
            rewrites += 1
            i += 3
            continue
        if ch == "\r":
            col = 0
        elif ch == "\n":
            screen.append([])
            col = 0
        elif ch == "\033":
            raise SystemExit("pty-run: unexpected escape sequence %r" % data[i:i + 6])
        else:
            w = width_of(ch)
            if col + w > columns:
                wrapped += 1
            line = screen[-1]
            while len(line) < col:
                line.append(" ")
            if col < len(line):
                line[col] = ch
            else:
                line.append(ch)
            col += w
            longest = max(longest, col)
        i += 1
    left = "".join(screen[-1])
    shown = sum(1 for line in screen if "".join(line).strip())
    return shown, rewrites, longest, wrapped, left


def main():
    if len(sys.argv) < 6 or sys.argv[4] != "--":
        raise SystemExit("usage: pty-run.py COLUMNS OUT ERR -- COMMAND [ARG]...")
    columns = int(sys.argv[1])
    out_path, err_path = sys.argv[2], sys.argv[3]
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = dict(os.environ, TERM="xterm")
    env.pop("COLUMNS", None)
    with open(out_path, "wb") as out:
        proc = subprocess.Popen(sys.argv[5:], stdin=slave, stdout=out, stderr=slave,
                                env=env, start_new_session=True)
    os.close(slave)
    raw = bytearray()
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:          # EIO: every writer closed the terminal
            break
        if not chunk:
            break
        raw += chunk
    status = proc.wait()
    os.close(master)
    with open(err_path, "wb") as f:
        f.write(raw)
    # the terminal's line discipline turns "\n" into "\r\n"
    shown, rewrites, longest, wrapped, left = play(raw.decode("utf-8", "replace"), columns)
    print("lines %d\nrewrites %d\nlongest %d\nwrapped %d\nleft %s" %
          (shown, rewrites, longest, wrapped, left))
    sys.exit(status)


main()
