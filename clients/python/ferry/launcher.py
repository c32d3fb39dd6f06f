"""Finds a Ferry distribution and a JDK 25, and runs a sidecar as a child process.

A distribution is the folder that ``./ferry dist`` builds (``target/ferry-dist`` of the
source tree): ``bin/ferry`` (the launcher) and ``lib/`` (the jars). It is found from
``$FERRY_HOME`` (the distribution folder), else from ``ferry`` on ``PATH``. The JDK 25 is
``$JAVA_HOME`` when it is a 25, else the usual places under /usr/lib/jvm.
"""

import collections
import glob
import os
import shutil
import subprocess
import threading
import time


class FerryNotInstalled(RuntimeError):
    """What is missing to start a sidecar (the distribution or the JDK), and how to get it."""


def find_launcher():
    """Path of the distribution's ``bin/ferry``; raises FerryNotInstalled saying what to do."""
    home = os.environ.get("FERRY_HOME")
    if home:
        launcher = os.path.join(home, "bin", "ferry")
        if not os.access(launcher, os.X_OK):
            raise FerryNotInstalled("FERRY_HOME=%s has no executable bin/ferry: build a distribution with "
                                    "'./ferry dist' in the Ferry source tree and point FERRY_HOME at "
                                    "its target/ferry-dist" % home)
        return launcher
    on_path = shutil.which("ferry")
    if on_path:
        return on_path
    raise FerryNotInstalled("no Ferry distribution: set FERRY_HOME to the folder './ferry dist' builds "
                            "(target/ferry-dist of the Ferry source tree), or put its bin/ on PATH")


def find_jdk25():
    """A JAVA_HOME whose java is version 25; raises FerryNotInstalled when there is none."""
    candidates = []
    if os.environ.get("JAVA_HOME"):
        candidates.append(os.environ["JAVA_HOME"])
    for pattern in ("/usr/lib/jvm/temurin-25-jdk-amd64", "/usr/lib/jvm/temurin-25-jdk",
                    "/usr/lib/jvm/java-25-openjdk-amd64", "/usr/lib/jvm/jdk-25", "/usr/lib/jvm/*25*",
                    "/opt/java/*25*", "/opt/jdk-25*", os.path.expanduser("~/.sdkman/candidates/java/25*")):
        candidates.extend(sorted(glob.glob(pattern)))
    for home in candidates:
        java = os.path.join(home, "bin", "java")
        if not os.access(java, os.X_OK):
            continue
        try:
            out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if 'version "25' in out.stderr + out.stdout:
            return home
    raise FerryNotInstalled("no JDK 25 (looked at $JAVA_HOME and /usr/lib/jvm): install one, e.g. "
                            "'apt-get install temurin-25-jdk' from the Adoptium repository, and set JAVA_HOME")


class SidecarProcess:
    """A ``ferry sidecar`` child process owned by this Python process.

    Its stdin is a pipe that only this process holds and it runs with --exit-on-stdin-close,
    so it stops when close() is called and also when this process dies, however it dies.
    Its output is drained by a daemon thread; the last lines are kept for error messages.
    """

    def __init__(self, args, ready_timeout=120.0):
        launcher = find_launcher()
        env = dict(os.environ, JAVA_HOME=find_jdk25())
        self._lines = collections.deque(maxlen=50)
        self._ready = threading.Event()
        self.fields = {}
        self.process = subprocess.Popen([launcher, "sidecar", "--exit-on-stdin-close"] + list(args),
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self._reader = threading.Thread(target=self._drain, name="ferry-sidecar-output", daemon=True)
        self._reader.start()
        deadline = time.monotonic() + ready_timeout
        while not self._ready.wait(0.1):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError("the Ferry sidecar did not start (exit code %s); its last output:\n%s"
                                   % (self.process.returncode, self.output()))

    def _drain(self):
        for raw in self.process.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self._lines.append(line)
            if not self._ready.is_set() and "FERRY-READY" in line:
                for word in line.split():
                    if "=" in word:
                        k, v = word.split("=", 1)
                        self.fields[k] = v
                self._ready.set()

    def output(self):
        return "\n".join(self._lines)

    def alive(self):
        return self.process.poll() is None

    def close(self, timeout=30.0):
        """Stops the sidecar (stdin closed, then SIGTERM, then SIGKILL) and waits for it."""
        try:
            if self.process.stdin:
                self.process.stdin.close()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.terminate()
                try:
                    self.process.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
        finally:
            self._reader.join(5)
            if self.process.stdout:
                self.process.stdout.close()
