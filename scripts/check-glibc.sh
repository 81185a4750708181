#!/usr/bin/env bash
# check-glibc.sh BINARY [CEILING]: fail if BINARY needs a glibc symbol version
# newer than CEILING (default 2.35: JetPack 6 is Ubuntu 22.04), naming each
# symbol that does. Reads the dynamic symbol table and the version needs with
# readelf (binutils reads any ELF architecture). A static binary needs none.
set -euo pipefail
bin=${1:?usage: check-glibc.sh BINARY [CEILING]}
ceiling=${2:-2.35}
[[ -f $bin ]] || { echo "check-glibc: $bin: no such file" >&2; exit 2; }
readelf -h "$bin" >/dev/null 2>&1 || { echo "check-glibc: $bin: not an ELF file" >&2; exit 2; }

newer() { [[ $1 != "$ceiling" && $(printf '%s\n%s\n' "$ceiling" "$1" | sort -V | tail -1) == "$1" ]]; }

# Symbols: "arc4random@GLIBC_2.36 (4)" in the dynamic table.
bad=()
while read -r sym ver; do
  newer "$ver" && bad+=("$sym@GLIBC_$ver")
done < <(readelf --dyn-syms -W "$bin" | sed -nE 's/.* ([^ @]+)@GLIBC_([0-9.]+).*/\1 \2/p' | sort -u)
# Version needs cover what has no symbol of its own (a bare requirement).
needs=$(readelf -V -W "$bin" | sed -nE 's/.*Name: GLIBC_([0-9.]+).*/\1/p' | sort -uV)
highest=$(tail -1 <<<"$needs")
for v in $needs; do
  if newer "$v" && ! printf '%s\n' "${bad[@]}" | grep -q "@GLIBC_$v$"; then bad+=("(version need)@GLIBC_$v"); fi
done

if ((${#bad[@]})); then
  echo "check-glibc: $bin needs glibc newer than $ceiling:" >&2
  printf '  %s\n' "${bad[@]}" >&2
  exit 1
fi
echo "check-glibc: $bin: highest glibc symbol version ${highest:-none (static)}, ceiling $ceiling: ok"
