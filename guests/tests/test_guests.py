"""The guest launcher's parts, without booting anything: what KERNEL= may name, the modules'
load order, the accelerator's choice, qemu's command line, and the reaper's cleanup."""
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from guests import bench, initramfs, kernel, lab_host, machine, reaper


def fake_bzimage(path):
    data = bytearray(4096)
    data[kernel.BZIMAGE_MAGIC_OFFSET:kernel.BZIMAGE_MAGIC_OFFSET + 4] = kernel.BZIMAGE_MAGIC
    path.write_bytes(bytes(data))
    return path


def fake_modules(root, release="6.1.0-test", dep="", builtin=""):
    modules = root / "lib" / "modules" / release
    modules.mkdir(parents=True)
    (modules / "modules.dep").write_text(dep)
    (modules / "modules.builtin").write_text(builtin)
    return modules


def test_a_name_that_is_no_file_and_no_kernel_package_is_refused(tmp_path):
    with pytest.raises(kernel.KernelError, match="neither a file nor a Debian kernel package"):
        kernel.resolve("bash", tmp_path)


def test_a_missing_file_is_refused_as_such(tmp_path):
    with pytest.raises(kernel.KernelError, match="no such file"):
        kernel.resolve(str(tmp_path / "vmlinuz-6.1"), tmp_path)


def test_a_file_that_is_not_a_kernel_is_refused(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a kernel\n" * 100)
    with pytest.raises(kernel.KernelError, match="not a kernel image"):
        kernel.resolve(str(text), tmp_path)


def test_an_image_finds_its_modules_where_a_package_puts_them(tmp_path):
    fake_modules(tmp_path, "6.1.0-test")
    (tmp_path / "boot").mkdir()
    image = fake_bzimage(tmp_path / "boot" / "vmlinuz-6.1.0-test")
    tree = kernel.resolve(str(image), tmp_path / "cache")
    assert tree.release == "6.1.0-test" and tree.modules == tmp_path / "lib" / "modules" / "6.1.0-test"


def test_an_image_without_modules_asks_for_kernel_modules(tmp_path):
    image = fake_bzimage(tmp_path / "bzImage")
    with pytest.raises(kernel.KernelError, match="KERNEL_MODULES="):
        kernel.resolve(str(image), tmp_path / "cache")


def test_a_package_apt_does_not_know_fails_in_one_line(tmp_path):
    if not Path("/usr/bin/apt-get").exists():
        pytest.skip("no apt-get here")
    with pytest.raises(kernel.KernelError, match="apt-get download failed") as e:
        kernel.resolve("linux-image-0.0.0-no-such-kernel", tmp_path)
    assert "\n" not in str(e.value)


DEP = """kernel/fs/9p/9p.ko: kernel/net/9p/9pnet.ko kernel/fs/netfs/netfs.ko
kernel/net/9p/9pnet.ko:
kernel/fs/netfs/netfs.ko:
kernel/net/9p/9pnet_virtio.ko: kernel/net/9p/9pnet.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio_ring.ko:
kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio_ring.ko
kernel/fs/ext4/ext4.ko.xz: kernel/fs/jbd2/jbd2.ko.xz
kernel/fs/jbd2/jbd2.ko.xz:
"""


def test_modules_load_after_their_dependencies_once_each_and_builtins_not_at_all(tmp_path):
    modules = fake_modules(tmp_path, dep=DEP, builtin="kernel/drivers/virtio/virtio_pci.ko\n")
    order, missing = initramfs.load_order(modules)
    paths = [p for p, _ in order]
    assert len(paths) == len(set(paths))
    assert paths.index("kernel/net/9p/9pnet.ko") < paths.index("kernel/fs/9p/9p.ko")
    assert paths.index("kernel/fs/jbd2/jbd2.ko.xz") < paths.index("kernel/fs/ext4/ext4.ko.xz")
    assert not any("virtio_pci" in p for p in paths)  # built in
    assert missing == ["crc32c_generic", "zram"]       # optional, absent: the rows that need them skip


def test_a_kernel_without_a_module_the_guest_needs_is_refused(tmp_path):
    modules = fake_modules(tmp_path, dep=DEP.replace("kernel/fs/9p/9p.ko:", "kernel/fs/other.ko:"),
                           builtin="kernel/drivers/virtio/virtio_pci.ko\n")
    with pytest.raises(kernel.KernelError, match="no 9p module"):
        initramfs.load_order(modules)


def test_module_arguments_reach_the_load_list(tmp_path):
    modules = fake_modules(tmp_path, dep=DEP + "kernel/drivers/block/zram/zram.ko:\n",
                           builtin="kernel/drivers/virtio/virtio_pci.ko\n")
    order, _ = initramfs.load_order(modules)
    assert ("kernel/drivers/block/zram/zram.ko", "num_devices=0") in order


def test_kvm_pvm_is_never_tried(monkeypatch):
    monkeypatch.setattr(machine, "kvm_verdict", lambda: (False, "/dev/kvm is kvm_pvm"))
    request = bench.GuestRequest(kernel="k", harness_args=[], build_dir=Path("b"), results=Path("r"),
                                 python="python3")
    shapes = bench._shapes(request)
    assert [s.accel for s in shapes] == ["tcg"] and "kvm_pvm" in shapes[0].accel_reason
    request.accel = "kvm"
    with pytest.raises(machine.GuestError, match="ACCEL=kvm"):
        bench._shapes(request)


def test_a_usable_kvm_is_tried_first_with_emulation_behind_it(monkeypatch):
    monkeypatch.setattr(machine, "kvm_verdict", lambda: (True, "/dev/kvm"))
    request = bench.GuestRequest(kernel="k", harness_args=[], build_dir=Path("b"), results=Path("r"),
                                 python="python3")
    assert [s.accel for s in bench._shapes(request)] == ["kvm", "tcg"]


def test_qemu_command_shares_the_root_read_only_and_the_staging_folder_writable():
    shape = machine.Shape(cpus=2, memory_mib=4096, accel="tcg")
    argv = machine.command("qemu", shape, "vmlinuz", "initrd", "/s/share", "/s/disk.img", "console=ttyS0")
    text = " ".join(argv)
    assert "tcg,thread=multi" in text and "-enable-kvm" not in text
    assert "path=/,mount_tag=hostroot,security_model=none,readonly=on" in text
    assert "path=/s/share,mount_tag=staging" in text and "readonly" not in text.split("mount_tag=staging")[1]
    assert "-no-reboot" in argv  # a panic (panic=-1) ends qemu instead of rebooting for ever


def test_the_reaper_kills_and_removes_what_a_dead_launcher_left(tmp_path):
    leftover = tmp_path / "guest"
    leftover.mkdir()
    sleeper = subprocess.Popen(["sleep", "60"])
    assert reaper.reap([f"pid {sleeper.pid}\n", f"path {leftover}\n"]) is True
    assert sleeper.wait(timeout=5) == -9
    assert not leftover.exists()


def test_the_reaper_leaves_alone_a_qemu_already_reaped(tmp_path):
    """Its pid may belong to another process by then (the KVM attempt before a TCG one)."""
    other = subprocess.Popen(["sleep", "60"])
    try:
        reaper.reap([f"pid {other.pid}\n", f"unpid {other.pid}\n"])
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()


def test_a_guest_that_stopped_without_an_exit_status_failed(tmp_path):
    with pytest.raises(machine.GuestError, match="stopped before its command finished"):
        bench._exit_status(tmp_path)
    (tmp_path / "exit-status").write_text("")
    with pytest.raises(machine.GuestError):
        bench._exit_status(tmp_path)
    (tmp_path / "exit-status").write_text("3\n")
    assert bench._exit_status(tmp_path) == 3


def test_a_results_path_the_kernel_command_line_cannot_carry_is_refused(tmp_path, capsys):
    request = bench.GuestRequest(kernel="linux-image-amd64", harness_args=[], build_dir=tmp_path,
                                 results=tmp_path / "my results", python="python3")
    assert bench.run(request) == bench.EXIT_GUEST
    assert "without spaces or commas" in capsys.readouterr().err
    assert not (tmp_path / "my results").exists()


def test_the_reaper_does_nothing_once_the_launcher_said_done(tmp_path):
    kept = tmp_path / "guest"
    kept.mkdir()
    assert reaper.reap([f"path {kept}\n", "done\n"]) is False
    assert kept.exists()


def test_a_sigkilled_launcher_leaves_nothing_behind(tmp_path):
    """The reaper as the launcher starts it: a process of its own that outlives the launcher."""
    leftover = tmp_path / "guest"
    leftover.mkdir()
    script = (f"import sys, subprocess, time; sys.path.insert(0, {str(Path(__file__).parents[2])!r});"
              f"from guests import machine; r = machine.Reaper(); p = subprocess.Popen(['sleep', '60']);"
              f"r.tell('pid', p.pid); r.tell('path', {str(leftover)!r}); print(p.pid, flush=True); time.sleep(60)")
    launcher = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    child = int(launcher.stdout.readline())
    launcher.kill()
    launcher.wait()
    for _ in range(100):
        if not leftover.exists():
            break
        time.sleep(0.05)
    assert not leftover.exists()
    with pytest.raises(ProcessLookupError):
        for _ in range(100):
            os.kill(child, 0)
            time.sleep(0.05)


def test_validity_table_reads_valid_invalid_and_skipped(tmp_path):
    import json
    (tmp_path / "run.json").write_text(json.dumps({"pageladder": {
        "ladder": [{"id": "a", "valid": True, "why_invalid": None},
                   {"id": "b", "valid": False, "why_invalid": "0.5 faults per event"}],
        "skipped": [{"rung": "c", "reason": "no zram"}, {"benchmark": "demand_paging", "reason": "x"}]}}))
    assert bench.validity(tmp_path) == {"a": "valid", "b": "invalid: 0.5 faults per event",
                                        "c": "skipped: no zram"}


def test_the_listed_kernels_are_debian_package_names():
    kernels = bench.listed_kernels()
    assert kernels and all(kernel.PACKAGE_NAME.match(k) for k in kernels)


def test_a_lab_hosts_network_card_is_reached_only_through_one_loopback_port():
    devices = lab_host.network_devices(2222)
    netdev = devices[devices.index("-netdev") + 1]
    assert "restrict=on" in netdev.split(",")  # the guest itself reaches nothing
    assert "hostfwd=tcp:127.0.0.1:2222-:22" in netdev.split(",")
    argv = machine.command("qemu", machine.Shape(2, 1024, "tcg"), "bzImage", "initrd", "/s", "/d", "", devices)
    assert argv[-len(devices):] == devices


@pytest.mark.skipif(not Path(lab_host.SSHD).exists() or not shutil.which("ssh-keygen"),
                    reason="no sshd here (make deps FLEET_DEPS=1)")
def test_a_lab_hosts_sshd_lets_the_given_keys_in_as_root_and_names_the_guests_facts(tmp_path):
    keys = tmp_path / "keys.pub"
    keys.write_text("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample test\n")
    share = tmp_path / "share"
    share.mkdir()
    command = lab_host.sshd_command(share, keys)
    config = (share / "sshd_config").read_text()
    assert f"AuthorizedKeysFile {share / 'authorized_keys'}" in config
    assert (share / "authorized_keys").read_text() == keys.read_text()
    assert "PasswordAuthentication no" in config and "PermitRootLogin prohibit-password" in config
    assert "AllowUsers root" in config  # the key list is root's only
    assert f"SetEnv PAGELADDER_GUEST={share / 'guest.json'}" in config
    assert (share / "host_key").is_file() and (share / "host_key.pub").is_file()
    assert command[2].endswith('-D -e -f "$1"') and command[-1] == str(share / "sshd_config")  # an argument


@pytest.mark.parametrize("content", [None, "\n"])
def test_a_lab_host_without_keys_to_let_in_is_refused(tmp_path, content):
    keys = tmp_path / "keys.pub"
    if content is not None:
        keys.write_text(content)
    with pytest.raises(machine.GuestError, match="no such file, or no key"):
        lab_host.sshd_command(tmp_path, keys)


def test_ssh_answers_only_where_a_server_sends_its_banner():
    import socket
    import threading
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert not lab_host.port_is_free(port)

        def serve(banner):
            conn, _ = server.accept()
            if banner:
                conn.sendall(banner)
            time.sleep(0.3)
            conn.close()
        for banner, answers in ((b"", False), (b"SSH-2.0-OpenSSH_9.2\r\n", True)):
            thread = threading.Thread(target=serve, args=(banner,))
            thread.start()
            assert lab_host.answers_ssh(port, timeout=0.2) is answers
            thread.join()


def test_serving_on_a_taken_port_is_refused_before_anything_starts(tmp_path, capsys, monkeypatch):
    import socket
    def resolve(*args, **kwargs):
        raise AssertionError("the kernel was fetched before the port was checked")
    monkeypatch.setattr(bench.kernel, "resolve", resolve)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        request = bench.GuestRequest(kernel="k", harness_args=[], build_dir=tmp_path, results=tmp_path / "r",
                                     python=sys.executable, ssh_port=port, authorized_keys="keys")
        assert bench.run(request) == bench.EXIT_GUEST
    assert "is taken" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("port", ["0", "65536", "ssh"])
def test_serve_refuses_what_is_not_a_tcp_port(port, capsys):
    from guests import __main__ as cli
    with pytest.raises(SystemExit) as e:
        cli.build_parser().parse_args(["serve", "--kernel", "k", "--ssh-port", port, "--authorized-keys", "f"])
    assert e.value.code == 2 and "not a TCP port" in capsys.readouterr().err


def test_a_package_whose_fields_would_lead_out_of_the_cache_is_refused(tmp_path, monkeypatch):
    from guests import kernel as kernel_module
    for package, version in (("../../etc", "1"), ("linux-image-x", "1/../../../x"), ("linux-image-x", "..")):
        answer = subprocess.CompletedProcess([], 0, f"Package: {package}\nVersion: {version}\nDepends: x\n", "")
        monkeypatch.setattr(kernel_module, "_run", lambda argv, answer=answer: answer)
        with pytest.raises(kernel_module.KernelError, match="is not a Debian package's"):
            kernel_module.unpack_deb(tmp_path / "k.deb", tmp_path / "cache")
        assert not (tmp_path / "cache").exists()


def test_a_guests_run_is_handed_back_as_regular_files_only(tmp_path):
    share, results = tmp_path / "share", tmp_path / "results"
    run = share / "results" / "20261207-020000-guest-6.1.0-57-amd64"
    (run / "logs").mkdir(parents=True)
    (run / "run.json").write_text("{}")
    secret = tmp_path / "host-secret"
    secret.write_text("not for the guest")
    (run / "report.md").symlink_to(secret)          # a later re-render must not write through it
    os.mkfifo(run / "fifo")
    (run / "setuid").write_text("x")
    (run / "setuid").chmod(0o4755)
    results.mkdir()
    (results / run.name).mkdir()                     # an earlier run of that name: kept
    (results / run.name / "mine").write_text("kept")
    console = tmp_path / "console.log"
    console.write_text("booted\n")
    target = bench._hand_back(share, results, console)
    assert target.name == run.name + "-2" and (results / run.name / "mine").read_text() == "kept"
    assert (target / "run.json").read_text() == "{}"
    assert not (target / "report.md").exists() and not (target / "fifo").exists()
    assert (target / "setuid").stat().st_mode & 0o7777 == 0o644
    assert os.readlink(results / "latest") == target.name


def test_a_guests_run_folder_that_is_no_plain_name_is_not_handed_back(tmp_path, capsys):
    share, results = tmp_path / "share", tmp_path / "results"
    (share / "results" / "-rf").mkdir(parents=True)
    results.mkdir()
    assert bench._hand_back(share, results, tmp_path / "console.log") is None
    assert "not a plain name" in capsys.readouterr().err and list(results.iterdir()) == []
