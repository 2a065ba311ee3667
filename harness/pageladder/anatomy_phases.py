"""Which phase of a fault a kernel function belongs to: the table a reader can check.

A sample's call chain is read from the innermost frame outwards; the first function this table
names decides the phase. So a helper the table does not know (a spinlock release, memcpy) counts
towards the phase of the function that called it: `_raw_spin_unlock_irqrestore` under
`folio_batch_move_lru` is LRU time, under `charge_memcg` memcg time. Two phases enclose whatever
runs inside them and are looked for first, anywhere in the chain: reclaim (compressing a page for
zram or zswap, writing it out, inside reclaim, is reclaim) and interrupts (a softirq that runs
inside a fault is not the fault's work), the innermost of them winning. A chain with kernel frames
but no function of the table is "other"; a chain of user-space frames only is "user space" (the
access itself, the clock reads around it, a signal handler). Names are those of 6.x kernels
(`.isra.0` and similar compiler suffixes are dropped before looking a name up); a function this
kernel inlines simply never appears.

Phases are listed in the order the anatomy chart stacks them, with the colour each has on
every chart.
"""
import re
from dataclasses import dataclass
from typing import Tuple


@dataclass(frozen=True)
class Phase:
    name: str
    colour: str
    # Exact function names, or patterns (a string with a regex metacharacter is a full-match
    # pattern).
    functions: Tuple[str, ...]
    encloses: bool = False  # everything called inside it is its time


PHASES = (
    Phase("exception entry and exit", "#4e79a7", (
        "asm_exc_page_fault", "exc_page_fault", "irqentry_enter", "irqentry_exit",
        "irqentry_exit_to_user_mode", "error_entry", "error_return",
        "restore_regs_and_return_to_usermode", "native_irq_return_iret", "swapgs_restore_regs_and_return_to_usermode",
        # A system call an event makes (sigreturn, the userfaultfd ioctl) enters the same way.
        "entry_SYSCALL_64", "entry_SYSCALL_64_after_hwframe", "do_syscall_64",
        "syscall_exit_to_user_mode", "exit_to_user_mode_loop", "exit_to_user_mode_prepare")),
    Phase("VMA lookup and locking", "#a0cbe8", (
        "lock_vma_under_rcu", "vma_start_read", "find_vma", "lock_mm_and_find_vma",
        "mt_find", "mas_walk", r"mmap_read_(un)?lock\w*", "down_read_trylock", "up_read",
        "vma_end_read")),
    Phase("fault dispatch", "#bab0ac", (
        "handle_mm_fault", "__handle_mm_fault", "handle_pte_fault", "do_anonymous_page",
        "do_fault", "do_read_fault", "do_shared_fault", "do_cow_fault", "do_wp_page", "wp_page_reuse",
        "wp_page_copy", "finish_fault", "do_user_addr_fault", "sanitize_fault_flags",
        "do_huge_pmd_anonymous_page", "do_huge_pmd_wp_page", "do_swap_page")),
    Phase("page allocation", "#f28e2b", (
        "vma_alloc_folio_noprof", "vma_alloc_folio", "alloc_pages_mpol", "alloc_pages_mpol_noprof",
        r"__alloc_pages\w*", r"__folio_alloc\w*", "get_page_from_freelist", "rmqueue",
        r"rmqueue_\w+", "prep_new_page", "post_alloc_hook", "alloc_anon_folio",
        "vma_alloc_anon_folio_pmd", r"__rmqueue\w*")),
    Phase("zeroing", "#ffbe7d", (
        "clear_page_erms", "clear_page_rep", "clear_page_orig", "clear_huge_page",
        "folio_zero_user", "clear_user_highpage", r"clear_subpage\w*")),
    Phase("copying", "#59a14f", (
        "copy_mc_enhanced_fast_string", "copy_mc_fragile", "copy_page", "__wp_page_copy_user",
        "copy_user_highpage", "copy_mc_user_highpage", "copy_mc_to_kernel", "copy_user_large_folio",
        r"copy_subpage\w*")),
    Phase("memcg charge", "#8cd17d", (
        "__mem_cgroup_charge", "charge_memcg", "try_charge_memcg", "try_charge",
        "memcg1_commit_charge", "mem_cgroup_swapin_charge_folio", "mem_cgroup_charge_folios",
        "commit_charge", r"memcg1?_check_events", r"mem_cgroup_commit_charge\w*",
        "memcg_check_events", "page_counter_try_charge")),
    Phase("LRU and rmap", "#b6992d", (
        "folio_add_lru", "folio_add_lru_vma", "folio_batch_move_lru", "lru_add",
        "lru_add_fn", "__folio_batch_add_and_move", "folio_add_new_anon_rmap",
        r"folio_add_(file|anon)_rmap\w*", r"__folio_add_\w*rmap\w*", r"__lruvec_stat_mod_folio",
        r"__mod_lruvec\w*", r"__mod_node_page_state", "folio_remove_rmap_pte", "workingset_refault",
        r"folio_remove_rmap\w*")),
    Phase("page-table update", "#f1ce63", (
        "set_pte_range", "set_pte_at", "set_ptes", r"__pte_alloc\w*", "pte_alloc_one",
        r"__pmd_alloc\w*", "__pte_offset_map", "__pte_offset_map_lock", "pte_offset_map_nolock",
        "ptep_clear_flush", "flush_tlb_mm_range", r"native_flush_tlb\w*", "flush_tlb_func",
        r"ptep_set_access_flags\w*", "do_set_pmd")),
    Phase("page-cache lookup", "#499894", (
        "filemap_fault", "filemap_map_pages", "next_uptodate_folio", "filemap_get_entry",
        r"__filemap_get_folio\w*", "filemap_map_folio_range", "shmem_fault", "shmem_get_folio_gfp",
        "ext4_filemap_fault", "do_sync_mmap_readahead", "do_async_mmap_readahead",
        "filemap_read_folio", "xas_load", "xas_find", "shmem_get_partial_folio",
        "swap_cache_get_folio", "filemap_map_pmd")),
    Phase("I/O submission and completion", "#86bcb6", (
        "page_cache_ra_order", "page_cache_ra_unbounded", "read_pages", "ext4_mpage_readpages",
        "ext4_read_folio", "ext4_readahead", "submit_bio", "submit_bio_noacct", r"blk_\w+",
        r"virtblk_\w+", r"virtqueue_\w+", "swap_read_folio", "swapin_readahead",
        r"swap_read_folio_\w+", r"__read_swap_cache_async\w*", "read_swap_cache_async",
        "swap_cluster_readahead", "swap_vma_readahead", "swap_cache_alloc_folio", "io_schedule",
        "bio_endio", "mpage_end_io", r"__folio_end_read\w*", "folio_end_read")),
    Phase("decompression", "#e15759", (
        # The read side of zram and zswap (their write side only runs inside reclaim).
        "zram_submit_bio", "zram_read_page", "zram_bvec_read", r"zram_read_from_zspool\w*",
        "zcomp_decompress", "zswap_load", r"zswap_decompress\w*", r"zs_obj_read\w*", "zs_map_object",
        "zs_unmap_object", r"\w*(lzo|lzorle|lz4|LZ4|zstd|ZSTD)\w*decompress\w*",
        "lzo1x_decompress_safe", r"crypto_\w*decompress\w*")),
    Phase("reclaim", "#ff9d9a", (
        "try_to_free_mem_cgroup_pages", "try_to_free_pages", "do_try_to_free_pages",
        "shrink_node", r"shrink_\w+", "reclaim_pages", r"reclaim_folio_list\w*",
        "mem_cgroup_handle_over_high", "reclaim_high", "isolate_lru_folios", "pageout",
        r"swap_writepage\w*", "add_to_swap", "folio_alloc_swap", "swap_writeout"),
        encloses=True),
    Phase("signal delivery", "#79706e", (
        "force_sig_fault", "force_sig_info_to_task", "send_signal_locked", "__send_signal_locked",
        "bad_area_nosemaphore", "__bad_area_nosemaphore", "__bad_area", "bad_area",
        "bad_area_access_error",
        "arch_do_signal_or_restart", "get_signal", "handle_signal", r"x64_setup_rt_frame\w*",
        r"__x64_sys_rt_sigreturn", "restore_sigcontext", r"\w*fpu__restore_sig\w*",
        r"copy_fpstate_to_sigframe\w*", r"__x64_sys_rt_sigprocmask", "sigprocmask",
        "__set_current_blocked", "dequeue_signal")),
    Phase("userfaultfd", "#d37295", (
        "handle_userfault", "userfaultfd_ioctl", r"userfaultfd_\w+", r"mfill_atomic\w*",
        r"uffd_\w+", "userfaultfd_continue")),
    Phase("scheduling", "#b07aa1", (
        "schedule", "__schedule", "finish_task_switch", "context_switch", "try_to_wake_up",
        r"ttwu_\w+", r"(en|de)queue_task\w*", r"pick_next_task\w*", "schedule_idle",
        r"__wake_up\w*", "wake_up_process", r"switch_mm\w*", "__switch_to", "__switch_to_asm")),
    Phase("interrupts", "#d7b5a6", (
        "handle_softirqs", "__irq_exit_rcu", "irq_exit_rcu", r"(asm_)?sysvec_\w+",
        r"__sysvec_\w+", "hrtimer_interrupt", r"__hrtimer_run_queues", "common_interrupt",
        "asm_common_interrupt"), encloses=True),
    Phase("other", "#d4a6c8", ()),
    Phase("user space", "#fabfd2", ()),
    # Not from samples: the events' wall time during which their thread was off the CPU, from
    # perf's context-switch records: waiting (for the device, for another thread) ...
    Phase("off-CPU", "#555555", ()),
    # ... or preempted by another task (on a quiet machine, next to nothing).
    Phase("preempted", "#a9a9a9", ()),
)
PHASE_NAMES = tuple(p.name for p in PHASES)
COLOURS = {p.name: p.colour for p in PHASES}
OTHER, USER, OFF_CPU, PREEMPTED = "other", "user space", "off-CPU", "preempted"
ENCLOSING = {p.name for p in PHASES if p.encloses}

_SUFFIX = re.compile(r"\.(isra|constprop|part|cold|lto_priv|llvm)\.?\d*.*$")
_EXACT = {}
_PATTERNS = []
for _phase in PHASES:
    for _fn in _phase.functions:
        if re.search(r"[\\\[\]()*+?|]", _fn):
            _PATTERNS.append((re.compile(_fn), _phase.name))
        elif _fn in _EXACT:
            raise ValueError(f"{_fn} is in two phases: {_EXACT[_fn]} and {_phase.name}")
        else:
            _EXACT[_fn] = _phase.name


def base_name(symbol):
    """'folio_batch_move_lru+0x1b' or 'foo.isra.0' -> the function's own name."""
    return _SUFFIX.sub("", symbol.split("+", 1)[0])


def phase_of_function(name):
    """The phase the table gives this function, or None."""
    name = base_name(name)
    if name in _EXACT:
        return _EXACT[name]
    for pattern, phase in _PATTERNS:
        if pattern.fullmatch(name):
            return phase
    return None


def classify(kernel_frames):
    """(phase, deciding function) of one sample, from its kernel frames innermost first ([] for
    a sample in user space)."""
    if not kernel_frames:
        return USER, None
    for frame in kernel_frames:
        phase = phase_of_function(frame)
        if phase in ENCLOSING:
            return phase, base_name(frame)
    for frame in kernel_frames:
        phase = phase_of_function(frame)
        if phase:
            return phase, base_name(frame)
    return OTHER, base_name(kernel_frames[0])
