#!/usr/bin/env python3
"""TLS between Wendao and PostgreSQL (issue 18): `sslmode` and `sslrootcert` against a real server.

    python3 scripts/pg_tls_test.py --bin PATH/wendao

A private CA and a server certificate for 127.0.0.1 and localhost are made with Debian's openssl in a
temporary folder (a second, unrelated CA plays the wrong one); a private cluster of Debian's
PostgreSQL (the pgserver wheel's is built without OpenSSL) serves TLS only (`hostssl` in pg_hba.conf).
Then `wendao kb list --database URL`:

- verify-full with sslrootcert = the CA, by 127.0.0.1 and by localhost: works;
- verify-full with the wrong CA, verify-full with the system's roots, verify-full by a name the
  certificate does not hold, require with the wrong CA (as libpq: a root certificate makes require
  check the chain): refused, the message saying it is the certificate, naming the host, never the
  password;
- require without a root certificate: works (encrypted, not verified);
- disable: refused by the server (TLS only), a clear message;
- sslrootcert naming a missing file: a clear error naming the file.

Prints JSON; exits 1 on any failure.
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pg_cluster import Cluster  # noqa: E402

FAILURES = []


def check(ok, what):
    if not ok:
        FAILURES.append(what)
        print("FAIL:", what, file=sys.stderr)


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certificates(d):
    for ca in ("ca", "wrong-ca"):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-keyout", f"{ca}.key",
                "-out", f"{ca}.pem", "-subj", f"/CN=Wendao test {ca}", cwd=d)
    with open(os.path.join(d, "san.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=127.0.0.1", cwd=d)
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-out", "server.crt", "-extfile", "san.cnf", cwd=d)


def debian_bin():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise SystemExit("Debian's postgresql is not installed (apt-get install postgresql)")
    return os.path.dirname(found[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    a = ap.parse_args()
    binary = os.path.abspath(a.bin)
    certs = tempfile.mkdtemp(prefix="wendao-tls-")
    os.chmod(certs, 0o755)
    make_certificates(certs)
    for f in os.listdir(certs):
        os.chmod(os.path.join(certs, f), 0o644)

    def read(name):
        with open(os.path.join(certs, name), "rb") as f:
            return f.read()

    hba = "local all all trust\nhostssl all all 127.0.0.0/8 scram-sha-256\n"
    cluster = Cluster(bin=debian_bin(), hba=hba, files={"server.crt": read("server.crt"), "server.key": read("server.key")},
                      extra_settings=("ssl=on", "ssl_cert_file={root}/server.crt", "ssl_key_file={root}/server.key",
                                      "listen_addresses=127.0.0.1,127.0.0.2"))
    out = {"postgres": cluster.bin}
    data = tempfile.mkdtemp(prefix="wendao-tls-data-")
    try:
        pw = urllib.parse.quote(cluster.password, safe="")

        def url(host, mode, root=None):
            u = f"postgres://{cluster.user}:{pw}@{host}:{cluster.port}/postgres?sslmode={mode}&connect_timeout=5"
            return u + (f"&sslrootcert={urllib.parse.quote(root, safe='')}" if root else "")

        def kb_list(u):
            r = subprocess.run([binary, "kb", "list", "--json", "--data", data, "--database", u],
                               capture_output=True, text=True, timeout=120)
            text = r.stdout + r.stderr
            check(cluster.password not in text, f"the password is not printed ({u.split('?')[1]})")
            return r.returncode, r.stderr.strip()[-400:]

        ca = os.path.join(certs, "ca.pem")
        wrong = os.path.join(certs, "wrong-ca.pem")
        cases = {
            "verify-full, the CA, 127.0.0.1": (url("127.0.0.1", "verify-full", ca), True, None),
            "verify-full, the CA, localhost": (url("localhost", "verify-full", ca), True, None),
            "require, no root certificate": (url("127.0.0.1", "require"), True, None),
            "verify-full, the wrong CA": (url("127.0.0.1", "verify-full", wrong), False, "certificate was not accepted"),
            "verify-full, the system's roots": (url("127.0.0.1", "verify-full"), False, "certificate was not accepted"),
            "require, the wrong CA": (url("127.0.0.1", "require", wrong), False, "certificate was not accepted"),
            "disable against a TLS-only server": (url("127.0.0.1", "disable"), False, "127.0.0.1"),
            "sslrootcert missing": (url("127.0.0.1", "verify-full", os.path.join(certs, "missing.pem")), False,
                                    "missing.pem"),
        }
        for name, (u, ok, says) in cases.items():
            code, err = kb_list(u)
            out[name] = {"exit": code, "message": err if code else ""}
            if ok:
                check(code == 0, f"{name}: works (exit {code}: {err})")
            else:
                check(code != 0, f"{name}: refused")
                check(says.lower() in err.lower(), f"{name}: the message says '{says}': {err}")
                if "sslrootcert missing" not in name:
                    check(f":{cluster.port}" in err, f"{name}: the message names the server: {err}")
        # The certificate is for 127.0.0.1 and localhost only: verify-full by another name of this host fails.
        code, err = kb_list(url("127.0.0.2", "verify-full", ca))
        out["verify-full, a name not in the certificate"] = {"exit": code, "message": err}
        check(code != 0, "verify-full by a name the certificate does not hold is refused")
        check("127.0.0.2" in err, f"verify-full by another name: the message names the host: {err}")
        check("certificate was not accepted" in err, f"verify-full by another name: the message says why: {err}")
    finally:
        cluster.close()
        subprocess.run(["rm", "-rf", certs, data])
    out["failures"] = FAILURES
    print(json.dumps(out, indent=2, ensure_ascii=False))
    sys.exit(1 if FAILURES else 0)


if __name__ == "__main__":
    main()
