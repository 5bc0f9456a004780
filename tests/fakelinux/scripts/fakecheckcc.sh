#!/bin/sh
# fakecheckcc.sh CC: refuse clang-M older than $FAKE_MIN_CLANG, in kbuild's words.
version=$(echo "$1" | sed -n 's/.*clang-\([0-9]*\).*/\1/p')
if [ -n "$FAKE_MIN_CLANG" ] && [ -n "$version" ] && [ "$version" -lt "$FAKE_MIN_CLANG" ]; then
	echo "***"
	echo "*** C compiler is too old."
	echo "***   Your Clang version:    $version.0.0"
	echo "***   Minimum Clang version: $FAKE_MIN_CLANG.0.0"
	echo "***"
	echo "scripts/Kconfig.include:45: Sorry, this C compiler is not supported."
	exit 1
fi
