#!/bin/sh
# ensure-debs.sh PKG... — make sure the Debian packages the build or the
# tests need are installed. As root with apt-get: install what is missing.
# Otherwise: print the exact command to run and fail.
missing=
for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
        || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "runnel: installing missing Debian packages:$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2 || exit 1
    apt-get install -y -qq --no-install-recommends $missing >&2 || exit 1
    exit 0
fi
echo "runnel: missing Debian packages. Install them with:" >&2
echo "  sudo apt-get install$missing" >&2
exit 1
