"""Real servers for the tests, each on a free loopback port and stopped by its context
manager: a farm (redis-server, a coordinator and workers, as ops/lib/farm.sh starts them)
and s3rver (ops/s3rver, as tests/fixtures.cpp starts it).

The farm's programs come from $SYNTHFARM_BIN (CMake sets it to the directory of the built
synthfarm), else <repo>/build/bin.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def bin_dir():
    return os.environ.get("SYNTHFARM_BIN") or os.path.join(REPO, "build", "bin")


def program(name):
    path = os.path.join(bin_dir(), name)
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"{path} is missing: build it (cmake --build build) or set SYNTHFARM_BIN")
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, seconds, process=None, log=None):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            break
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    text = open(log, errors="replace").read() if log and os.path.exists(log) else ""
    raise RuntimeError(f"nothing listens on port {port} after {seconds} s\n{text}")


class Processes:
    """Child processes, each with its log file; stop() ends them (SIGTERM, then SIGKILL)."""

    def __init__(self, run_dir):
        self.run_dir = run_dir
        self.children = []

    def start(self, name, argv, env=None):
        log = os.path.join(self.run_dir, f"{name}.log")
        with open(log, "wb") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self.children.append(proc)
        return proc, log

    def stop(self):
        for p in self.children:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.children:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.children = []


class Farm:
    """redis-server, a coordinator and `workers` workers on free ports; datasets under
    `storage_root`/<job id>. submit() and wait() run the synthfarm CLI against it."""

    def __init__(self, run_dir, storage_root, workers=2, threads=1):
        self.run_dir, self.storage_root = run_dir, storage_root
        self.procs = Processes(run_dir)
        redis_port, http_port = free_port(), free_port()
        telemetry, control = f"tcp://127.0.0.1:{free_port()}", f"tcp://127.0.0.1:{free_port()}"
        self.redis = f"redis://127.0.0.1:{redis_port}"
        self.url = f"http://127.0.0.1:{http_port}"
        os.makedirs(os.path.join(run_dir, "redis"), exist_ok=True)
        try:
            proc, log = self.procs.start("redis", [
                "redis-server", os.path.join(REPO, "ops", "redis.conf"), "--port", str(redis_port),
                "--dir", os.path.join(run_dir, "redis"), "--daemonize", "no"])
            wait_for_port(redis_port, 10, proc, log)
            self.env = dict(os.environ)
            self.env["SYNTHFARM_TOKEN"] = subprocess.run(
                [program("synthfarm"), "token", "create", "--role", "admin", "--name", "python-tests",
                 "--redis", self.redis], check=True, capture_output=True, text=True).stdout.strip()
            proc, log = self.procs.start("coordinator", [
                program("synthfarm-coordinator"), "--redis", self.redis, "--listen", f"127.0.0.1:{http_port}",
                "--telemetry", telemetry, "--control", control, "--storage-root", f"file://{storage_root}"])
            for i in range(workers):
                self.procs.start(f"worker-{i + 1}", [
                    program("synthfarm-worker"), "--redis", self.redis, "--coordinator", telemetry,
                    "--control", control, "--threads", str(threads), "--id", f"w{i + 1}"])
            wait_for_port(http_port, 20, proc, log)
        except BaseException:
            self.procs.stop()
            raise

    def cli(self, *args, check=True):
        return subprocess.run([program("synthfarm"), "--url", self.url, *args], env=self.env, check=check,
                              capture_output=True, text=True)

    def submit(self, spec_path):
        return self.cli("submit", spec_path).stdout.strip()

    def wait(self, job, timeout=300):
        done = subprocess.run([program("synthfarm"), "--url", self.url, "wait", job], env=self.env,
                              capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"job {job} did not finish (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
        return os.path.join(self.storage_root, job)

    def stop(self):
        self.procs.stop()


def validates(spec_path):
    """(ok, message) of `synthfarm validate` on a spec file: whether this build takes it."""
    done = subprocess.run([program("synthfarm"), "validate", spec_path], capture_output=True, text=True)
    return done.returncode == 0, (done.stdout + done.stderr).strip()


@contextlib.contextmanager
def s3rver(bucket):
    """s3rver on a free port with `bucket`; yields the environment the AWS tools (and boto3
    through synthfarm_data) need to reach it."""
    exe = os.path.join(REPO, "ops", "s3rver", "node_modules", ".bin", "s3rver")
    if not os.access(exe, os.X_OK):
        raise RuntimeError(f"{exe} is missing: run `npm ci --prefix ops/s3rver` (ops/test.sh does)")
    run_dir = tempfile.mkdtemp(prefix="synthfarm-s3rver-")
    procs = Processes(run_dir)
    try:
        port = free_port()
        env = dict(os.environ)
        # s3rver's continuation tokens use DES, which Node 17+ offers only through the legacy provider.
        env["NODE_OPTIONS"] = "--openssl-legacy-provider"
        proc, log = procs.start("s3rver", [
            exe, "--directory", os.path.join(run_dir, "data"), "--address", "127.0.0.1", "--port", str(port),
            "--silent", "--configure-bucket", bucket], env=env)
        wait_for_port(port, 20, proc, log)
        yield {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "S3RVER",
               "AWS_SECRET_ACCESS_KEY": "S3RVER", "AWS_REGION": "us-east-1"}
    finally:
        procs.stop()
        shutil.rmtree(run_dir, ignore_errors=True)


def upload(env, bucket, prefix, root):
    """Every file under `root` to s3://bucket/prefix/ (boto3)."""
    import boto3
    import botocore.config

    client = boto3.session.Session(region_name=env["AWS_REGION"]).client(
        "s3", endpoint_url=env["AWS_ENDPOINT_URL"], aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        config=botocore.config.Config(s3={"addressing_style": "path"}))
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            key = f"{prefix}/{os.path.relpath(path, root)}"
            client.upload_file(path, bucket, key)
