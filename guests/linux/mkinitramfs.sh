#!/bin/sh
# Builds the Linux guest's initramfs: a gzip-compressed newc cpio archive holding
# busybox-static and guests/linux/init. Needs only cpio, gzip, find (no root: the
# archive has no device nodes, init mounts devtmpfs itself).
#
#   mkinitramfs.sh BUSYBOX OUT.cpio.gz
#
# BUSYBOX is the extracted /bin/busybox of Debian's busybox-static (arm64). The output is
# reproducible: sorted entries, fixed timestamps, owner root, `gzip -n`.
set -eu
if [ $# -ne 2 ]; then
    echo "usage: $0 BUSYBOX OUT.cpio.gz" >&2
    exit 2
fi
busybox=$1
out=$2
here=$(cd "$(dirname "$0")" && pwd)
for tool in cpio gzip find; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "mkinitramfs: \`$tool\` is missing; install it with: apt-get install -y $tool" >&2
        exit 1
    }
done
[ -f "$busybox" ] || { echo "mkinitramfs: no busybox at $busybox" >&2; exit 1; }

stage=$(mktemp -d)
chmod 755 "$stage"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/sbin" "$stage/usr/bin" "$stage/usr/sbin" \
    "$stage/proc" "$stage/sys" "$stage/dev" "$stage/tmp" "$stage/etc" "$stage/root"
cp "$busybox" "$stage/bin/busybox"
chmod 755 "$stage/bin/busybox"
ln -s busybox "$stage/bin/sh"
cp "$here/init" "$stage/init"
chmod 755 "$stage/init"
find "$stage" -exec touch -h -d @0 {} +

tmp="$out.tmp"
(cd "$stage" && find . | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 --reproducible) \
    | gzip -9 -n > "$tmp"
mv "$tmp" "$out"
echo "mkinitramfs: wrote $out ($(wc -c < "$out") bytes)"
