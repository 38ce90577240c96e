"""A private PostgreSQL cluster for scripts (the two-server test, the benchmarks).

`WENDAO_PG_BIN` (scripts/test.sh points it at PostgreSQL 16 with pgvector from
scripts/pgvector-postgres.sh), else Debian's postgresql (`/usr/lib/postgresql/*/bin`): `initdb` in a temporary
folder, password authentication, a loopback port; as `nobody` when run as root (PostgreSQL refuses
to run as root). `stop()`/`start()`/`restart()` for outage tests; `close()` removes everything.
"""
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import urllib.parse
import uuid


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_bin():
    env = os.environ.get("WENDAO_PG_BIN")
    if env and os.access(os.path.join(env, "initdb"), os.X_OK):
        return env
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise SystemExit("PostgreSQL is not installed (apt-get install postgresql; scripts/test.sh does it)")
    return os.path.dirname(found[-1])


class Cluster:
    user = "wendao"

    def __init__(self, extra_settings=(), bin=None, hba=None, files=None):
        """`bin`: the PostgreSQL binaries (default: `pg_bin()`); `hba`: the pg_hba.conf to use instead
        of initdb's; `files`: {name: bytes} written into the cluster's folder before it starts, owned by
        the server's user, mode 0600 (TLS keys), referred to in `extra_settings` as `{root}/name`."""
        self.bin = bin or pg_bin()
        self.root = tempfile.mkdtemp(prefix="wendao-pg-")
        self.data = os.path.join(self.root, "data")
        os.mkdir(self.data)
        # A password with characters that must be percent-encoded in the URL, to check it never shows.
        self.password = "pw-" + uuid.uuid4().hex[:10] + "-'x"
        pwfile = os.path.join(self.root, "pw")
        with open(pwfile, "w") as f:
            f.write(self.password)
        if os.getuid() == 0:
            for p in (self.root, self.data, pwfile):
                os.chown(p, 65534, 65534)
        self._run([os.path.join(self.bin, "initdb"), "-D", self.data, "-U", self.user, "--pwfile=" + pwfile,
                   "-A", "scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"])
        os.remove(pwfile)
        for name, data in (files or {}).items():
            path = os.path.join(self.root, name)
            with open(path, "wb") as f:
                f.write(data)
            os.chmod(path, 0o600)
            if os.getuid() == 0:
                os.chown(path, 65534, 65534)
        if hba is not None:
            with open(os.path.join(self.data, "pg_hba.conf"), "w") as f:
                f.write(hba)
        self.port = free_port()
        self.options = (f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c max_connections=200 "
                        + " ".join(f"-c {s.format(root=self.root)}" for s in extra_settings))
        self.start()

    def _run(self, argv, env=None, check=True):
        if os.getuid() == 0:
            argv = ["/usr/sbin/runuser", "-u", "nobody", "--"] + argv
        # Output to a file, not a pipe: a server that pg_ctl starts inherits the descriptors, and a
        # pipe would then never end.
        with tempfile.TemporaryFile("w+") as out:
            r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                               env=dict(os.environ, **(env or {})), cwd="/", timeout=120)
            out.seek(0)
            text = out.read()
        if check and r.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed ({r.returncode}): {text[-800:]}")
        return text

    def start(self):
        self._run([os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-l", os.path.join(self.data, "server.log"),
                   "-w", "-t", "60", "-o", self.options, "start"])

    def stop(self, mode="fast"):
        self._run([os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-m", mode, "-w", "stop"])

    def restart(self, mode="fast"):
        self._run([os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-l", os.path.join(self.data, "server.log"),
                   "-m", mode, "-w", "-t", "60", "-o", self.options, "restart"])

    def psql(self, sql, database="postgres"):
        psql = os.path.join(self.bin, "psql")
        if not os.access(psql, os.X_OK):
            psql = "/usr/bin/psql"
        return self._run([psql, "-X", "-q", "-t", "-A", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user,
                          "-d", database, "-c", sql], env={"PGPASSWORD": self.password}).strip()

    def make_database(self, name):
        self.psql(f"CREATE DATABASE {name}")
        return self.url(name)

    def url(self, database, pool_size=10, connect_timeout=3):
        pw = urllib.parse.quote(self.password, safe="")
        return (f"postgres://{self.user}:{pw}@127.0.0.1:{self.port}/{database}"
                f"?sslmode=disable&pool_size={pool_size}&connect_timeout={connect_timeout}")

    def close(self):
        try:
            self.stop("immediate")
        except Exception:
            pass
        shutil.rmtree(self.root, ignore_errors=True)
