#!/bin/sh
# fakeconfig.sh TARGET OUT: write a .config for a config target. allnoconfig and tinyconfig
# leave KSM out; defconfig and the all*configs set it; randconfig sets it for odd seeds.
# KCONFIG_ALLCONFIG's lines win over the target's choice.
target=$1 out=$2
case $target in
allnoconfig | tinyconfig) on="MMU" ;;
defconfig | *_defconfig) on="MMU KSM SHMEM" ;;
allmodconfig | allyesconfig) on="MMU KSM SHMEM USERFAULTFD" ;;
randconfig)
	echo "KCONFIG_SEED=${KCONFIG_SEED:-0}"
	on="MMU"
	[ $((${KCONFIG_SEED:-0} % 2)) -eq 1 ] && on="$on KSM"
	;;
esac
# The target's options, then KCONFIG_ALLCONFIG's lines in order (any value; a later one wins,
# "# CONFIG_X is not set" turns X off), as kconfig keeps what a fragment asks for.
{
	for opt in $on; do echo "CONFIG_$opt=y"; done
	[ -n "$KCONFIG_ALLCONFIG" ] && cat "$KCONFIG_ALLCONFIG"
} | awk '
/^CONFIG_[A-Za-z0-9_]+=/ { name = substr($0, 1, index($0, "=") - 1); value[name] = $0; next }
/^# CONFIG_[A-Za-z0-9_]+ is not set$/ { delete value[$2] }
END { for (name in value) print value[name] }
' | sort >"$out.body"
echo "# $target seed=${KCONFIG_SEED:-}" >"$out"
cat "$out.body" >>"$out" && rm -f "$out.body"
