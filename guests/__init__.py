"""Guests on other kernels: `make bench KERNEL=<kernel>` runs the whole ladder, harness included,
inside a qemu guest booted on that kernel, and hands its run folder back into results/.

- `kernel.py`: what KERNEL= names (a Debian package, a .deb, an image with its modules), made
  into a kernel tree cached under build/kernels/;
- `initramfs.py`: busybox, the modules the guest needs before it can reach the host, `init.sh`;
- `machine.py`: qemu's command line, the accelerator (KVM where it runs the kernel, software
  emulation otherwise), the console, time-outs, and the cleanup that survives the launcher;
- `bench.py`: one guest run from KERNEL= to results/<run-id>/; `test-kernels` over the list.
"""
