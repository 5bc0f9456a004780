#!/bin/sh
# fakecc.sh OBJ OUT: "compile" OBJ into OUT. Lines of the source, and of the "..." headers it
# includes from its own directory, say what happens:
#   // fake: error-unless OPTION TEXT   an error TEXT when CONFIG_OPTION is not set
#   // fake: warn TEXT                  a warning TEXT with W=1
#   // fake: warning TEXT               a warning TEXT in every build (-Wall's kind)
# FAIL=FILE (space separated objects or sources) make those fail; WARN=1 makes every object
# warn, WARN=obj (space separated) those objects with W=1. The object holds its source's text:
# scripts/fakeld.sh links the objects into the image, so what a patch adds is in the kernel.
obj=$1 out=$2
src=${obj%.o}.c
[ -f "$out/include/generated/prepared" ] || { echo "fakecc: $out is not prepared" >&2; exit 2; }
[ -f "$src" ] || { echo "make[2]: *** No rule to make target '$obj'.  Stop."; exit 2; }
echo "  CC      $obj"
status=0
for f in $FAIL; do [ "$f" = "$obj" ] || [ "$f" = "$src" ] && { echo "$PWD/$src:1:1: error: failing as asked"; status=1; }; done
[ "$WARN" = 1 ] && echo "$PWD/$src:1:1: warning: warning as asked [-Wfake]"
for f in $WARN; do [ "$f" = "$obj" ] && [ "$W" = 1 ] && echo "$PWD/$src:1:1: warning: warning as asked [-Wfake]"; done
dir=$(dirname "$src")
files="$src $(sed -n 's/^#include "\(.*\)"$/\1/p' "$src" | while read -r h; do echo "$dir/$h"; done)"
for file in $files; do
	[ -f "$file" ] || continue
	grep -n '// fake: ' "$file" | while IFS= read -r hit; do
		line=${hit%%:*} rest=${hit#*// fake: }
		set -- $rest
		case $1 in
		error-unless)
			shift; opt=$1; shift
			grep -qx "CONFIG_$opt=[ym]" "$out/.config" || echo "$PWD/$file:$line:5: error: $* [-Werror=implicit-function-declaration]"
			;;
		warn) shift; [ "$W" = 1 ] && echo "$PWD/$file:$line:9: warning: $* [-Wunused-variable]" ;;
		warning) shift; echo "$PWD/$file:$line:9: warning: $* [-Wunused-variable]" ;;
		esac
	done
done >"$out/.fakecc.$$"
cat "$out/.fakecc.$$"
grep -q ': error: ' "$out/.fakecc.$$" && status=1
rm -f "$out/.fakecc.$$"
if [ $status -ne 0 ]; then
	echo "make[2]: *** [scripts/Makefile.build:229: $obj] Error 1"
	exit 1
fi
mkdir -p "$out/$dir"
cp "$src" "$out/$obj"
