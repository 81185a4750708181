#!/usr/bin/env python3
"""Checks that the CUDA library carries the code it was configured for.

usage: cuda_fatbin.py LIBRARY SASS PTX [CUOBJDUMP]  (an empty CUOBJDUMP: none)
  SASS, PTX: comma-separated architectures (75,80,...) from cuda/cuda.cmake.

Every object compiled from a .cu file embeds a fatbin; each of them must hold
machine code (an ELF cubin) for every SASS architecture and PTX for every PTX
one, or a GPU of that kind gets "no kernel image" for some kernels. With
cuobjdump (CUDA toolkit) the listing is its --list-elf / --list-ptx; without
it (a toolkit installed without cuobjdump) the fatbin headers are read here:
a 16-byte header (magic 0xBA55ED50, version 1, header size, payload size),
then entries whose header starts with kind (1 PTX, 2 ELF), header size and
payload size, with the architecture as a 32-bit number at byte 28 (the layout
as nvcc 13.0 writes it, where the PTX is compressed and so not greppable).
"""
import struct
import subprocess
import sys

MAGIC = 0xBA55ED50
KINDS = {1: "PTX", 2: "ELF"}


def name(kind, arch):
    return f"sm_{arch} machine code" if kind == "ELF" else f"compute_{arch} PTX"


def fatbins(data):
    """(kind, arch) sets, one per fatbin found in the file's bytes."""
    out, at = [], data.find(struct.pack("<I", MAGIC))
    while at >= 0:
        magic, version, header, size = struct.unpack_from("<IHHQ", data, at)
        entries, p, end = set(), at + header, at + header + size
        ok = version == 1 and header == 16 and end <= len(data)
        while ok and p < end:
            kind, _, entry_header, payload = struct.unpack_from("<HHIQ", data, p)
            (arch,) = struct.unpack_from("<I", data, p + 28)
            ok = kind in KINDS and entry_header >= 32
            entries.add((KINDS.get(kind), arch))
            p += entry_header + payload
        if ok and p == end:
            out.append(entries)
        at = data.find(struct.pack("<I", MAGIC), at + 4)
    return out


def main():
    lib, sass, ptx = sys.argv[1], sys.argv[2], sys.argv[3]
    want = [("ELF", int(a)) for a in sass.split(",") if a] + [("PTX", int(a)) for a in ptx.split(",") if a]
    if not want:
        sys.exit("cuda_fatbin: no architectures to check")
    if len(sys.argv) > 4 and sys.argv[4]:  # an empty argument: no cuobjdump
        listing = ""
        for flag in ("--list-elf", "--list-ptx"):
            listing += subprocess.run([sys.argv[4], flag, lib], check=True, capture_output=True, text=True).stdout
        print(listing, end="")
        missing = [name(kind, arch) for kind, arch in want
                   if not any(f"sm_{arch}." in line and kind in line for line in listing.splitlines())]
        if missing:
            sys.exit(f"cuda_fatbin: {lib} lacks {', '.join(missing)}")
        print(f"cuda_fatbin: cuobjdump lists {', '.join(name(k, a) for k, a in want)}")
        return
    with open(lib, "rb") as f:
        found = fatbins(f.read())
    if not found:
        sys.exit(f"cuda_fatbin: no fatbin in {lib}")
    for i, entries in enumerate(found):
        missing = [name(kind, arch) for kind, arch in want if (kind, arch) not in entries]
        if missing:
            sys.exit(f"cuda_fatbin: fatbin {i + 1} of {len(found)} in {lib} lacks {', '.join(missing)} "
                     f"(has {', '.join(name(k, a) for k, a in sorted(entries))})")
    print(f"cuda_fatbin: all {len(found)} fatbins in {lib} hold "
          f"{', '.join(name(k, a) for k, a in want)}")


main()
