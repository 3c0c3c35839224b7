#!/bin/sh
# Builds the Linux guest's initramfs: a gzip-compressed newc cpio archive holding
# busybox-static, guests/linux/init and the kernel modules of the virtio-mmio block
# driver (for a VM given a virtio-blk device) and of the virtio-mem driver (for a VM
# that holds an elastic pool). Needs only cpio, gzip, find (no root: the
# archive has no device nodes, init mounts devtmpfs itself).
#
#   mkinitramfs.sh BUSYBOX OUT.cpio.gz [MODULES]
#
# BUSYBOX is the extracted /bin/busybox of Debian's busybox-static (arm64), MODULES the
# extracted /lib/modules/<version>/kernel of the kernel package. The output is
# reproducible: sorted entries, fixed timestamps, owner root, `gzip -n`.
set -eu
if [ $# -lt 2 ] || [ $# -gt 3 ]; then
    echo "usage: $0 BUSYBOX OUT.cpio.gz [MODULES]" >&2
    exit 2
fi
busybox=$1
out=$2
modules=${3:-}
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
# virtio core, rings, the MMIO transport, the block driver and the memory-device driver
# (modules in Debian's kernel), in load order; init loads them when asked (`hvdisk`,
# `hvmem`).
if [ -n "$modules" ]; then
    mkdir -p "$stage/lib/modules"
    for m in virtio/virtio virtio/virtio_ring virtio/virtio_mmio block/virtio_blk virtio/virtio_mem; do
        cp "$modules/drivers/$m.ko" "$stage/lib/modules/"
    done
fi
find "$stage" -exec touch -h -d @0 {} +

tmp="$out.tmp"
(cd "$stage" && find . | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 --reproducible) \
    | gzip -9 -n > "$tmp"
mv "$tmp" "$out"
echo "mkinitramfs: wrote $out ($(wc -c < "$out") bytes)"
