#!/bin/sh
# fakeld.sh IMAGE RELEASE ARCH CC OBJ...: "link" the objects into a kernel image: a version
# line as the kernel prints it at boot, then the objects' code (their sources' text), which
# tests/fakevng/vng reads: what a patch put in mm/ is in the kernel it boots.
image=$1 release=$2 arch=$3 cc=$4
shift 4
mkdir -p "$(dirname "$image")"
{
	echo "Linux version $release (zpfarm@fakelinux) ($cc) #1 SMP PREEMPT_DYNAMIC $arch"
	cat "$@"
} >"$image.tmp" && mv "$image.tmp" "$image"
echo "  LD      vmlinux"
echo "  Kernel: ${image##*/arch/} is ready  (#1)"
