#!/bin/sh
# merge_config.sh -m -O DIR BASE FRAGMENT...: the fragments' lines appended to BASE, into DIR/.config.
[ "$1" = -m ] && shift
[ "$1" = -O ] && { dir=$2; shift 2; }
base=$1; shift
cat "$base" "$@" >"$dir/.config.new" && mv "$dir/.config.new" "$dir/.config"
