# shellcheck shell=bash
# Shell helpers shared by tools/build and tools/pulumi-plugins (source this file).

# place SRC DST: make DST the file SRC, atomically. A hard link (a copy across file systems) under a
# temporary name, then a rename: readers see the old file or the new one, never a half-written one, and
# running programs keep the file they started from.
place() {
  local src=$1 dst=$2
  [[ "$src" -ef "$dst" ]] && return 0
  local tmp; tmp="$(dirname "$dst")/.$(basename "$dst").tmp.$$"
  ln -f "$src" "$tmp" 2>/dev/null || cp --reflink=auto -f "$src" "$tmp"
  mv -f "$tmp" "$dst"
}

# write_atomically FILE TEXT: FILE holds TEXT and a newline (temporary file, then rename).
write_atomically() {
  printf '%s\n' "$2" > "$1.tmp.$$" && mv -f "$1.tmp.$$" "$1"
}
