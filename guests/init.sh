#!/bin/busybox sh
# PID 1 of a pageladder guest (busybox, from the initramfs that guests/initramfs.py builds).
#
# It loads the modules the host listed (virtio, 9p, ext4, zram ...), mounts the host's root
# read-only over 9p at /host (so the guest runs the host's own Python, matplotlib and the
# checkout's build/ unchanged), gives it the writable places a run needs (tmpfs for /tmp and
# /run, the guest's own ext4 disk for /var/tmp, where file_fault's file and the swap file go, and
# the host's staging folder, shared read-write, for the results), mounts cgroup v2 (or v1) and
# runs the harness command the host wrote, chrooted into /host. Whatever happens, it writes the
# command's exit status where the host reads it and powers off: a guest never waits for input.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

say() { echo "pageladder-guest: $*"; }
fail() { say "$*"; dmesg | tail -n 15; echo "pageladder-guest-failed: $*"; sync; poweroff -f; }

staging=""
for word in $(cat /proc/cmdline); do
  case "$word" in pageladder.staging=*) staging=${word#pageladder.staging=} ;; esac
done
[ -n "$staging" ] || fail "no pageladder.staging= on the kernel command line"

while read -r module args; do
  insmod "/modules/$module" $args || fail "insmod $module failed"
done < /modules.list

mkdir -p /host /hostro
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose hostroot /host \
  || fail "cannot mount the host's root over 9p"
# The same root once more, bound before anything is mounted over it (a 9p tag mounts once):
# what the writable mounts below hide (a checkout under /tmp, say) is bound back from here.
mount --make-private / 2>/dev/null
mount --bind /host /hostro || fail "cannot bind the host's root a second time"
. "/hostro$staging/guest.env" || fail "cannot read $staging/guest.env"

mount -t proc proc /host/proc
mount -t sysfs sysfs /host/sys
mkdir -p /dev/shm
mount -o bind /dev /host/dev
mount -t tmpfs -o mode=1777 tmpfs /host/dev/shm
mount -t tmpfs -o mode=1777 tmpfs /host/tmp
mount -t tmpfs -o mode=755 tmpfs /host/run
# The disk appears once virtio_blk has probed it, a moment after insmod returns.
for _ in 1 2 3 4 5 6 7 8 9 10; do [ -b /dev/vda ] && break; sleep 0.5; done
mount -t ext4 /dev/vda /host/var/tmp || fail "cannot mount the guest's disk /dev/vda on /var/tmp"
chmod 1777 /host/var/tmp
# A lab host (guests/lab_host.py) gives root a writable home, as on any machine one logs in to
# (Ansible keeps its temporary files there), and terminals for the SSH sessions that ask for one.
if [ -n "$GUEST_LAB_HOST" ]; then
  mount -t tmpfs -o mode=700 tmpfs /host/root || fail "cannot give root a writable home"
  mkdir -p /host/dev/pts && mount -t devpts -o ptmxmode=0666,mode=0620 devpts /host/dev/pts \
    || fail "cannot mount devpts"
fi
# The host's paths the run needs (the checkout, its build folder, the interpreter, the staging
# folder's parents) stay visible where a writable mount above would hide them.
for keep in $GUEST_KEEP; do
  case "$keep" in
    /tmp/*|/var/tmp/*|/run/*|/dev/shm/*|/root/*)
      mkdir -p "/host$keep" && mount --bind "/hostro$keep" "/host$keep" || fail "cannot keep $keep visible" ;;
  esac
done
# Last: a staging folder under the host's /tmp (or, on a lab host, /root) would be hidden by the
# mounts above.
mkdir -p "/host$staging" 2>/dev/null
mount -t 9p -o trans=virtio,version=9p2000.L,rw,msize=262144 staging "/host$staging" \
  || fail "cannot mount the staging folder $staging read-write"
if [ "$GUEST_CGROUP" = v1 ]; then
  mount -t tmpfs -o mode=755 cgroup /host/sys/fs/cgroup
  mkdir /host/sys/fs/cgroup/memory
  mount -t cgroup -o memory memory /host/sys/fs/cgroup/memory || fail "cannot mount cgroup v1 memory"
else
  mount -t cgroup2 cgroup2 /host/sys/fs/cgroup || fail "cannot mount cgroup2"
  # What systemd does on every v2 machine: the root lets its children use the memory controller.
  echo +memory > /host/sys/fs/cgroup/cgroup.subtree_control || fail "cannot enable the memory controller"
fi
mount -t debugfs debugfs /host/sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs /host/sys/kernel/tracing 2>/dev/null
hostname "$GUEST_HOSTNAME"
ip link set lo up 2>/dev/null
# A lab host: its card on qemu's user-mode network, at the address qemu's port forward reaches.
if [ -n "$GUEST_LAB_HOST" ]; then
  for _ in 1 2 3 4 5 6 7 8 9 10; do [ -e /sys/class/net/eth0 ] && break; sleep 0.5; done
  ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 && ip route add default via 10.0.2.2 \
    || fail "cannot bring the network card eth0 up"
fi

say "running: $GUEST_COMMAND"
echo "pageladder-guest-started"
chroot /host /bin/sh -c "cd \"\$GUEST_CHECKOUT\" && exec $GUEST_COMMAND" \
  </dev/null
status=$?
echo "$status" > "/host$staging/exit-status"
sync
umount "/host$staging" 2>/dev/null
umount /host/var/tmp 2>/dev/null
say "the command exited with status $status"
poweroff -f
