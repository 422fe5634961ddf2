#!/usr/bin/env bash
# The charm runs on its principal's base: Ubuntu 22.04 has glibc 2.35. Fail if the
# binary needs a newer glibc symbol version than that.
set -euo pipefail
bin=${1:?usage: check_glibc.sh BINARY}
max_allowed=2.35
needed=$(objdump -T "$bin" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -n 1)
if [ -z "$needed" ]; then
    echo "check_glibc: no GLIBC symbol versions found in $bin" >&2
    exit 1
fi
if [ "$(printf '%s\n%s\n' "$needed" "$max_allowed" | sort -V | tail -n 1)" != "$max_allowed" ]; then
    echo "check_glibc: $bin needs GLIBC_$needed, newer than $max_allowed (Ubuntu 22.04)" >&2
    exit 1
fi
echo "check_glibc: $bin needs at most GLIBC_$needed (allowed: $max_allowed)"
