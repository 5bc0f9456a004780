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
if [ -n "$KCONFIG_ALLCONFIG" ]; then
	for opt in $(sed -n 's/^CONFIG_\([A-Za-z0-9_]*\)=[ym]$/\1/p' "$KCONFIG_ALLCONFIG"); do on="$on $opt"; done
	for opt in $(sed -n 's/^# CONFIG_\([A-Za-z0-9_]*\) is not set$/\1/p' "$KCONFIG_ALLCONFIG"); do
		on=$(echo "$on" | tr ' ' '\n' | grep -vx "$opt" | tr '\n' ' ')
	done
fi
echo "# $target seed=${KCONFIG_SEED:-}" >"$out"
for opt in $on; do echo "CONFIG_$opt=y"; done | sort -u >>"$out"
