"""``linli serve`` for the fault tests when they run as root.

Root ignores file modes (``CAP_DAC_OVERRIDE``), so a spool directory made read-only would
still be written and the unwritable-spool scenario would test nothing. This drops the
capabilities that bypass file permissions from the process (before any thread exists, so
every later thread, ``asyncio.to_thread``'s too, inherits the reduced set), then runs the
same entry point as ``python -m bot``.
"""

from __future__ import annotations

import ctypes
import os
import sys

_CAP_VERSION_3 = 0x20080522
# CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER
_FILE_POWERS = (1 << 1) | (1 << 2) | (1 << 3)


class _Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _Data(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def drop_file_powers() -> None:
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    header = _Header(_CAP_VERSION_3, 0)
    data = (_Data * 2)()
    if libc.capget(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capget")
    keep = ~_FILE_POWERS & 0xFFFFFFFF
    data[0].effective &= keep
    data[0].permitted &= keep
    data[0].inheritable &= keep
    if libc.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capset")


if __name__ == "__main__":
    drop_file_powers()
    from bot.cli import main

    sys.exit(main(sys.argv[1:]))
