#!/bin/sh
# pqx interop: runs libpqx's KEMs against @noble/post-quantum; prints PASS/FAIL/SKIP lines.
# Usage: tests/interop/run.sh BUILD   (the build folder holding tests/interop/kemtool)
set -u
BUILD=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
tool=$BUILD/tests/interop/kemtool
case $tool in /*) ;; *) tool=$(pwd)/$tool ;; esac

if ! command -v node >/dev/null 2>&1; then
	echo "SKIP interop noble: node is not installed (scripts/deps.sh installs it)"
	exit 0
fi
if [ ! -f "$here/node_modules/@noble/post-quantum/package.json" ]; then
	echo "SKIP interop noble: tests/interop/node_modules is missing (run scripts/deps.sh)"
	exit 0
fi
if [ ! -x "$tool" ]; then
	echo "FAIL interop noble: $tool is not built (make tests)"
	exit 1
fi
node "$here/interop.mjs" "$tool"
rc=$?
# age files: pqx against Debian's age 1.1.1 and typage (npm age-encryption)
sh "$here/age.sh" "$BUILD" || rc=1
node "$here/typage.mjs" "$BUILD/pqx" || rc=1
exit $rc
