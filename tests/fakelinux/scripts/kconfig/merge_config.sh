#!/bin/sh
# merge_config.sh [-m] [-n] [-O DIR] BASE FRAGMENT...: as the kernel's: the fragments merged in
# order (a later value wins), then, unless -m, `make KCONFIG_ALLCONFIG=merged alldefconfig`
# (allnoconfig with -n) in DIR; -m writes the merged lines as DIR/.config.
target=alldefconfig merge_only='' dir=.
while [ $# -gt 0 ]; do
	case $1 in
	-m) merge_only=1 ;;
	-n) target=allnoconfig ;;
	-O) dir=$2; shift ;;
	-*) echo "merge_config.sh: unknown option $1" >&2; exit 1 ;;
	*) break ;;
	esac
	shift
done
[ $# -gt 0 ] || { echo "merge_config.sh: no fragment" >&2; exit 1; }
for f in "$@"; do
	[ -f "$f" ] || { echo "merge_config.sh: $f: no such file" >&2; exit 1; }
	echo "Merging $f"
done
mkdir -p "$dir"
cat "$@" >"$dir/.tmp.config"
if [ -n "$merge_only" ]; then
	mv "$dir/.tmp.config" "$dir/.config"
	exit 0
fi
make -s O="$dir" KCONFIG_ALLCONFIG="$dir/.tmp.config" $target || exit 1
rm -f "$dir/.tmp.config"
