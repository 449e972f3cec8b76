"""A Jupyter kernel for a student's notebook, in a sandbox it cannot get out of.

`SandboxKernel(folder, python)` starts `python -m ipykernel_launcher` with

* bubblewrap (`bwrap`, Debian's package `bubblewrap`): new PID, network, IPC and UTS
  namespaces; a root file system that holds only the system's read-only directories, the
  kernel's Python and its environment (read-only), the submission's own folder and a
  folder of the kernel's for its sockets and home (the only places it can write; /tmp is
  a private tmpfs); it dies with the grader (`--die-with-parent`). It sees no lecture
  source, no other submission, no network;
* an unprivileged user of its own, so that its process limit is its alone: run as root,
  a user id of its own (`setpriv`), which owns nothing else; run as anyone else (no root
  needed), a user namespace of its own (`bwrap --unshare-user`), in which the kernel
  counts the sandbox's processes apart from every other's (Linux 5.14 and later; an older
  kernel counts them with all of the grader's user's), and whose user owns nothing
  outside it (`mode` says which: "root" or "user namespace");
* resource limits (`prlimit`): address space, CPU seconds, processes, file size, open files;
  and the libraries' thread pools held to `GRADING_THREADS`, so that a notebook runs the
  same number of threads, within the same limits, on any machine.

The kernel talks to the grader over Unix sockets in its own folder (the IPC transport), which
work across the network namespace. `execute(code, timeout)` runs code and waits with a
deadline: on timeout it interrupts, and a kernel that ignores the interrupt is killed,
with everything it started (the PID namespace ends with it); a kernel that forks more than
MAX_KERNEL_COPIES copies of itself (a fork bomb) is killed as soon as the grader sees them,
while its cell runs or when it ends. Messages the grader cannot
read (a kernel whose own messaging the code has broken) end the run too. `stop()` kills
the sandbox; `leftovers()` lists processes still running in it (none, after `stop`).

Where bwrap is missing (macOS, Windows, a Linux without it), or cannot run (a kernel or
container that allows no unprivileged user namespaces, and no root), the kernel runs as
an ordinary process in the folder, and `sandboxed` is False with `why_not` saying why:
the grader reports it in every result.
"""
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager

# Each sandbox runs as a user of its own, with no other process: the process limit counts
# a user's processes, so that one submission's fork bomb cannot starve another's kernel
# graded beside it, nor one still dying starve the next. FIRST_UID + a number from the
# grading process's pid and a count of its sandboxes.
FIRST_UID = 200_000
NAMESPACE_UID = 1_000               # the kernel's user inside a user namespace (no root needed)
_started = [0]
OUTPUT_LIMIT = 100_000          # characters of output kept from one execution

# A fork bomb: more copies of the kernel than this (processes of the sandbox that run its
# command line: os.fork without exec) stop it at once. Copies share the kernel's sockets and cores, so
# that hundreds of them starve it (its cell then runs to its time limit, and its interrupt may
# or may not be heard) and may answer the grader in its place: what the grader saw would
# differ from run to run. A multiprocessing pool forks a copy per worker, one per core unless
# told otherwise: fewer than this on any grader (two a core past 64 cores). The grader looks
# every COPIES_LOOK seconds while a cell runs, and when it ends.
MAX_KERNEL_COPIES = max(128, 2 * (os.cpu_count() or 1))
COPIES_LOOK = 0.5


# Threads the student's code may start in its thread pools (BLAS, OpenMP, Numba) and the C
# library's malloc arenas, whatever the machine: a notebook uses as many threads on a 2-core
# laptop as on a 128-core grader, so it gets the same limits and the same grade on both.
GRADING_THREADS = 2


# Environment variables that say how the machine runs compiled code (not what the code does).
MACHINE_SETTINGS = ("NPY_DISABLE_CPU_FEATURES", "NUMBA_CPU_NAME", "NUMBA_CPU_FEATURES", "XLA_FLAGS")


def thread_caps(threads=GRADING_THREADS):
    """Environment variables that hold the libraries' thread pools to `threads`."""
    n = str(threads)
    return {"OMP_NUM_THREADS": n, "OPENBLAS_NUM_THREADS": n, "MKL_NUM_THREADS": n,
            "VECLIB_MAXIMUM_THREADS": n, "NUMEXPR_NUM_THREADS": n, "NUMBA_NUM_THREADS": n,
            "MALLOC_ARENA_MAX": n}


@dataclass
class Limits:
    """Resource limits of a sandbox. What grows with the machine is scaled to it: XLA's thread
    pool has a thread per core (each with its stack's address space), and CPU seconds count
    every thread, so both limits grow with the cores; the rest is the same everywhere."""
    memory_bytes: int = None               # address space: JAX, Numba and a lecture, + 64 MB a core
    cpu_seconds: int = None                # 900 s of every core busy: a runaway, not a slow machine
    processes: int = None                  # tasks (threads count) of the sandbox's user: 256 + 16 a core
    file_bytes: int = 200_000_000
    open_files: int = 1_024

    def __post_init__(self):
        cores = os.cpu_count() or 1
        if self.memory_bytes is None:
            self.memory_bytes = 4_000_000_000 + 64_000_000 * cores
        if self.cpu_seconds is None:
            self.cpu_seconds = 900 * max(cores, 2)
        if self.processes is None:
            # What bounds a fork bomb's memory, and its copies' share of the cores while the
            # grader looks for them (MAX_KERNEL_COPIES): each copy of a kernel writes its own
            # ~12 MB (measured: 3.3 GB for 280 copies; 2,048 would allow ~25 GB, and the grader,
            # one process among 2,000 busy copies, took 57 s to count them). An honest kernel
            # running a whole student notebook peaked at 17 tasks (numpy) to 60
            # (beyond_one_device's two-worker Dask cluster) on 2 cores and 51 on one: 288 leaves
            # ~5x that here and, at 9 more tasks a core, ~2x on 128 cores; a fork bomb still
            # reaches more than MAX_KERNEL_COPIES copies before its fork fails.
            self.processes = 256 + 16 * cores


@dataclass
class Execution:
    status: str                 # "ok", "error", "timeout", "killed", "broken"
    outputs: list               # nbformat output dicts, text capped at OUTPUT_LIMIT
    error: str = ""             # the exception (ename: evalue), or why the run stopped
    execution_count: int = None  # as a notebook shows it, for code run with `history`


def kernel_python(kernel_name):
    """The Python that the Jupyter kernel `kernel_name` runs ("python3": this one)."""
    if kernel_name in ("python3", None):
        return sys.executable
    argv = KernelSpecManager().get_kernel_spec(kernel_name).argv
    return sys.executable if argv[0] in ("python", "python3") else argv[0]


def _prefixes(python):
    """The directories a Python needs: its environment and the installation it comes from."""
    probe = subprocess.run([python, "-c", "import sys; print(sys.prefix); print(sys.base_prefix)"],
                           capture_output=True, text=True, timeout=60, check=True)
    return sorted({Path(p).resolve() for p in probe.stdout.split()} | {Path(python).resolve().parent.parent})


def sandbox_mode():
    """(mode, why not): mode "root" (a user id of its own per sandbox) or "user namespace"
    (no root needed), or None with the reason no sandbox can run here."""
    missing = [tool for tool in ("bwrap", "prlimit", "setpriv") if shutil.which(tool) is None]
    if missing:
        return None, (f"{', '.join(missing)} not found (on Debian or Ubuntu: apt-get install bubblewrap "
                      "util-linux), so the kernel ran as an ordinary process")
    root = os.geteuid() == 0
    probe = subprocess.run(["bwrap", "--ro-bind", "/", "/", "--unshare-pid", "--unshare-net",
                            *([] if root else ["--unshare-user"]), "true"], capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        why = probe.stderr.strip()[:200]
        return None, (f"bubblewrap cannot start here ({why})" if root else
                      f"bubblewrap cannot start without root here ({why}): this kernel or container allows no "
                      "unprivileged user namespaces; grade as root, or where they are allowed")
    return ("root" if root else "user namespace"), None


def why_not_sandboxed():
    """Why a kernel cannot be sandboxed here, or None when it can."""
    return sandbox_mode()[1]


def sandbox_prefix(folder, private, python, limits, uid, mode="root"):
    """The command that runs what follows it inside the sandbox: `folder` is the kernel's
    working directory, `private` holds its sockets, home and caches (both writable). As
    root the limits are set outside and the kernel runs as `uid`; in a user namespace they
    are set inside it, where its process count is the sandbox's own."""
    folder, private = Path(folder).resolve(), Path(private).resolve()
    limited = ["prlimit", f"--as={limits.memory_bytes}", f"--cpu={limits.cpu_seconds}",
               f"--nproc={limits.processes}", f"--fsize={limits.file_bytes}", f"--nofile={limits.open_files}", "--"]
    args = (limited if mode == "root" else []) + ["bwrap"]
    for top in ("/usr", "/etc", "/sys"):
        args += ["--ro-bind", top, top]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        path = Path(top)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), top]
        elif path.is_dir():
            args += ["--ro-bind", top, top]
    args += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/dev/shm",   # semaphores (Numba)
             "--perms", "1777", "--tmpfs", "/tmp"]
    prefixes = _prefixes(python)
    # bwrap makes the directories above a mount point private (0700) unless told otherwise;
    # the kernel's user must be able to pass through them.
    parents = sorted({str(parent) for path in [*prefixes, folder, private] for parent in path.parents
                      if str(parent) not in ("/", "/usr", "/etc", "/sys", "/tmp")}, key=len)
    for parent in parents:
        args += ["--perms", "0755", "--dir", parent]
    for prefix in prefixes:
        args += ["--ro-bind", str(prefix), str(prefix)]
    args += ["--bind", str(folder), str(folder), "--bind", str(private), str(private),
             "--chdir", str(folder), "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
             "--unshare-cgroup-try", "--die-with-parent", "--new-session", "--clearenv"]
    home = private / "home"
    env = {"HOME": str(home), "PATH": f"{Path(python).parent}:/usr/bin:/bin", "LANG": "C.UTF-8",
           "MPLBACKEND": "Agg", "MPLCONFIGDIR": str(home / ".config" / "matplotlib"),
           "XDG_CACHE_HOME": str(home / ".cache"), "NUMBA_CACHE_DIR": str(home / ".cache" / "numba"),
           "PYTHONDONTWRITEBYTECODE": "1",
           "USER": "student", "LOGNAME": "student"}      # the uid has no entry in /etc/passwd
    # How this machine runs compiled code, so that the student's kernel runs like the grader's:
    # OpenBLAS's settings (OPENBLAS_CORETYPE where its CPU detection fails), the CPU features
    # NumPy and Numba may use, XLA's flags; then the thread caps, which override any count.
    env.update({k: v for k, v in os.environ.items() if k.startswith("OPENBLAS_") or k in MACHINE_SETTINGS})
    env.update(thread_caps())
    for key, value in env.items():
        args += ["--setenv", key, value]
    if mode == "root":
        return args + ["--", "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                       "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
    # bwrap gives the namespace's process no capabilities and sets no_new_privs itself.
    return args + ["--unshare-user", "--uid", str(NAMESPACE_UID), "--gid", str(NAMESPACE_UID), "--"] + limited


class _Manager(KernelManager):
    """A kernel manager whose kernel runs `python -m ipykernel_launcher` behind a prefix."""

    def __init__(self, python, prefix, **kwargs):
        super().__init__(**kwargs)
        self._kernel_spec = KernelSpec(argv=[python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                                       display_name="grading", language="python", interrupt_mode="message")
        self._prefix = prefix

    def format_kernel_cmd(self, extra_arguments=None):
        return self._prefix + super().format_kernel_cmd(extra_arguments)


class SandboxKernel:
    """A kernel working in `folder` (which should hold only what the code may see: the
    notebook). Its sockets, home, caches, log and the grader's requests live in
    `self.private`, a folder of its own beside it, removed by `stop()`."""

    def __init__(self, folder, python=None, limits=None, sandbox=True):
        self.folder = Path(folder).resolve()
        self.private = Path(tempfile.mkdtemp(prefix="kernel-", dir=self.folder.parent))
        (self.private / "home").mkdir()
        # Normalized, not resolved: a virtual environment's python must keep its own path.
        self.python = os.path.normpath(os.path.abspath(python or sys.executable))
        self.limits = limits or Limits()
        self.mode, self.why_not = sandbox_mode() if sandbox else (None, "the grader was asked to run without a sandbox")
        self.sandboxed = self.why_not is None
        self.manager = self.client = self.namespace = self.kernel = None
        _started[0] += 1
        self.uid = FIRST_UID + (os.getpid() % 1_000_000) * 1_000 + _started[0] % 1_000

    def start(self, timeout=120):
        if self.sandboxed:
            for top in (self.folder, self.private) if self.mode == "root" else ():
                os.chown(top, self.uid, self.uid)
                for path in top.rglob("*"):
                    os.chown(path, self.uid, self.uid)
            prefix = sandbox_prefix(self.folder, self.private, self.python, self.limits, self.uid, self.mode)
        else:
            prefix = []
        # Unix sockets: the sandbox has no network, and no one else's loopback.
        self.manager = _Manager(self.python, prefix, transport="ipc", ip=str(self.private / "kernel"),
                                connection_file=str(self.private / "kernel.json"))
        self.manager.write_connection_file()
        if self.sandboxed:                      # the kernel's user reads it
            os.chmod(self.private / "kernel.json", 0o644)
        # (In the sandbox, bwrap clears the environment and sets its own.)
        self.log = open(self.private / "kernel.log", "w")
        self.manager.start_kernel(cwd=str(self.folder), env=self._plain_env(), stdout=self.log, stderr=self.log)
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=timeout)
        self.namespace = self._pid_namespace()
        self.kernel = self._kernel_process()

    def _kernel_process(self):
        """The kernel's own process: the first under the launcher that is Python running
        ipykernel (bwrap's command line names it too)."""
        import psutil
        for pid in self.processes():
            try:
                process = psutil.Process(pid)
                if process.cmdline()[1:3] == ["-m", "ipykernel_launcher"]:
                    return process
            except psutil.Error:
                continue
        return None

    def copies(self, enough=None):
        """The kernel's live copies (processes of the sandbox that run its command line, forked
        without exec; an orphan's parent is the sandbox's first process, not the kernel), up
        to `enough` of them."""
        import psutil
        if self.kernel is None:
            return []
        found = []
        try:
            line = self.kernel.cmdline()
        except psutil.Error:
            return []
        for pid in self.processes():
            if pid == self.kernel.pid:
                continue
            try:
                child = psutil.Process(pid)
                if child.cmdline() == line and child.status() != psutil.STATUS_ZOMBIE:
                    found.append(pid)
            except psutil.Error:
                continue
            if enough is not None and len(found) >= enough:
                break
        return found

    def _fork_bomb(self):
        """Whether the kernel has more copies than MAX_KERNEL_COPIES."""
        return len(self.copies(enough=MAX_KERNEL_COPIES + 1)) > MAX_KERNEL_COPIES

    def _pid_namespace(self):
        """The sandbox's PID namespace, from a process under the launcher that is in another
        namespace than this one: an open descriptor of it, held until `leftovers` is done, so
        that no namespace started after it (another submission's) can take its number;
        None outside a sandbox."""
        if not self.sandboxed:
            return None
        own = os.stat("/proc/self/ns/pid")
        for pid in self.processes()[1:]:
            try:
                descriptor = os.open(f"/proc/{pid}/ns/pid", os.O_RDONLY)
            except OSError:
                continue
            found = os.fstat(descriptor)
            if (found.st_dev, found.st_ino) != (own.st_dev, own.st_ino):
                return descriptor
            os.close(descriptor)
        return None

    def _plain_env(self):
        env = dict(os.environ)
        env.update({"MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1"})
        env.update(thread_caps())
        return env

    def execute(self, code, timeout, grace=5.0, history=False):
        """Run `code`; wait at most `timeout` seconds, interrupt, wait `grace` more, then kill.
        With `history`, it counts as a notebook cell (an execution count, `In [n]`)."""
        try:
            msg_id = self.client.execute(code, store_history=history, allow_stdin=False)
        except Exception as error:                               # the channels are gone
            return Execution("broken", [], f"the kernel could not be reached ({type(error).__name__})")
        outputs, kept, count = [], 0, None
        deadline, interrupted = time.monotonic() + timeout, False
        look = time.monotonic() + COPIES_LOOK
        bomb = Execution("killed", outputs, f"the code forked more than {MAX_KERNEL_COPIES} copies of the kernel "
                         "(a fork bomb): the kernel was stopped")
        while True:
            if time.monotonic() >= look:
                if self._fork_bomb():
                    self.stop()
                    return bomb
                look = time.monotonic() + COPIES_LOOK
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if interrupted or not self.alive():
                    self.stop()
                    return Execution("killed", outputs, f"the code ran past {timeout:g} s and ignored the "
                                     "interrupt: the kernel was stopped")
                self._interrupt()
                interrupted, deadline = True, time.monotonic() + grace
                continue
            try:
                message = self.client.get_iopub_msg(timeout=min(remaining, COPIES_LOOK))
            except queue.Empty:
                if not self.alive():
                    return Execution("killed", outputs, "the kernel died")
                continue
            except Exception as error:                           # a message the grader cannot read
                self.stop()
                return Execution("broken", outputs, f"the kernel sent a message the grader cannot read "
                                 f"({type(error).__name__}): the kernel was stopped")
            try:
                if message["parent_header"].get("msg_id") != msg_id:
                    continue
                kind, content = message["msg_type"], message["content"]
            except Exception:
                self.stop()
                return Execution("broken", outputs, "the kernel sent a malformed message: the kernel was stopped")
            if kind == "status" and content.get("execution_state") == "idle":
                if self._fork_bomb():           # however soon the cell ended
                    self.stop()
                    return bomb
                break
            if kind == "execute_input" and isinstance(content.get("execution_count"), int):
                count = content["execution_count"]
            if kind == "stream":
                text = str(content.get("text", ""))[:max(0, OUTPUT_LIMIT - kept)]
                kept += len(text)
                if text:
                    outputs.append({"output_type": "stream", "name": content.get("name", "stdout"), "text": text})
            elif kind in ("display_data", "execute_result") and kept < OUTPUT_LIMIT:
                data = {k: v for k, v in content.get("data", {}).items() if isinstance(v, (str, list))}
                kept += sum(len(str(v)) for v in data.values())
                output = {"output_type": kind, "data": data, "metadata": {}}
                if kind == "execute_result":
                    output["execution_count"] = content.get("execution_count")
                outputs.append(output)
            elif kind == "error":
                outputs.append({"output_type": "error", "ename": str(content.get("ename", "")),
                                "evalue": str(content.get("evalue", ""))[:2_000],
                                "traceback": [str(t)[:2_000] for t in content.get("traceback", [])[:50]]})
        errors = [o for o in outputs if o["output_type"] == "error"]
        if interrupted:
            return Execution("timeout", outputs, f"the code ran past {timeout:g} s and was interrupted", count)
        if errors:
            return Execution("error", outputs, f"{errors[-1]['ename']}: {errors[-1]['evalue']}"[:500], count)
        return Execution("ok", outputs, "", count)

    def _interrupt(self):
        try:
            self.manager.interrupt_kernel()
        except Exception:
            pass

    def alive(self):
        try:
            return self.manager is not None and self.manager.is_alive()
        except Exception:
            return False

    def pid(self):
        provisioner = getattr(self.manager, "provisioner", None)
        process = getattr(provisioner, "process", None)
        return getattr(process, "pid", None)

    def processes(self):
        """The pids of the kernel's launcher and everything under it (the whole sandbox)."""
        import psutil
        pid = self.pid()
        try:
            root = psutil.Process(pid) if pid else None
            return [] if root is None else [root.pid] + [c.pid for c in root.children(recursive=True)]
        except psutil.Error:
            return []

    def _in_sandbox(self, process):
        """Whether a process is the sandbox's: its user's (as root), in its PID namespace (in
        a user namespace, where outside it runs as the grader's user)."""
        if self.mode == "root":
            return bool(process.info["uids"]) and process.info["uids"].real == self.uid
        if self.namespace is None:
            return False
        try:
            found, held = os.stat(f"/proc/{process.pid}/ns/pid"), os.fstat(self.namespace)
        except OSError:
            return False
        return (found.st_dev, found.st_ino) == (held.st_dev, held.st_ino)

    def leftovers(self, pids, wait=60.0):
        """The processes still running `wait` seconds after the sandbox was stopped (none):
        in a sandbox, any of its own (its user's, or its PID namespace's); else those of
        `pids`. (Thousands of processes, a fork bomb's, take the system seconds to tear down:
        this waits as long as they run.) In a sandbox, whatever of its own is still running
        is also sent SIGKILL at every look: the PID namespace's own teardown of some 1,900
        processes outran 30 s in two of four runs of the hostile class, and a user
        namespace's bwrap outlived 30 s twice with four graders on two cores; it returns
        as soon as none is left."""
        import psutil
        deadline = time.monotonic() + wait
        while True:
            alive = []
            candidates = [p.pid for p in psutil.process_iter(["uids"]) if self._in_sandbox(p)] \
                if self.sandboxed else pids
            for pid in candidates:
                try:
                    if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                        alive.append(pid)
                        if self.sandboxed:
                            os.kill(pid, signal.SIGKILL)
                except (psutil.Error, OSError):
                    pass
            if not alive or time.monotonic() > deadline:
                if self.namespace is not None:          # now its number may be another's
                    os.close(self.namespace)
                    self.namespace = None
                return alive
            time.sleep(0.1)

    def stop(self):
        if self.client is not None:
            try:
                self.client.stop_channels()
            except Exception:
                pass
        if self.manager is not None:
            try:
                self.manager.shutdown_kernel(now=True)
            except Exception:
                pid = self.pid()
                if pid:
                    try:
                        os.kill(pid, 9)
                    except OSError:
                        pass
            self.manager.cleanup_resources()
        self.client = None
        if getattr(self, "log", None) is not None:
            self.log.close()
        shutil.rmtree(self.private, ignore_errors=True)

    def settle(self, grace=5.0):
        """After the grader stopped waiting on an execution: interrupt the kernel and wait
        until it answers again; True if it does, else it is stopped (killed)."""
        if not self.alive():
            return False
        self._interrupt()
        run = self.execute("pass", grace, grace=grace)
        return run.status == "ok"
