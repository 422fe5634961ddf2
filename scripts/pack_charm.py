#!/usr/bin/env python3
"""Write keepalived.charm: a zip laid out as charmcraft lays out a charm.

charmcraft cannot pack on a non-Ubuntu host (it refuses Debian builds, and managed
builds need LXD or Multipass), so the artifact Juju deploys is written here, from the
release binary cargo built, and then checked with `charmcraft analyse`.

Usage: pack_charm.py BINARY OUTPUT
"""

import datetime
import os
import sys
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# A fixed timestamp keeps the archive reproducible for the same inputs.
EPOCH = (2024, 1, 1, 0, 0, 0)

MANIFEST = """\
charmcraft-version: 4.5.0
charmcraft-started-at: '{started}'
bases:
- name: ubuntu
  channel: '22.04'
  architectures:
  - amd64
- name: ubuntu
  channel: '24.04'
  architectures:
  - amd64
analysis:
  attributes:
  - name: language
    result: unknown
  - name: framework
    result: unknown
"""


def add(zf, arcname, data, executable=False):
    info = zipfile.ZipInfo(arcname, date_time=EPOCH)
    # "version made by" Unix, so Juju's Go zip reader honours the mode bits.
    info.create_system = 3
    mode = 0o755 if executable else 0o644
    info.external_attr = (0o100000 | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data)


def read(rel):
    with open(os.path.join(ROOT, rel), "rb") as f:
        return f.read()


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: pack_charm.py BINARY OUTPUT")
    binary, output = sys.argv[1], sys.argv[2]
    started = datetime.datetime(*EPOCH, tzinfo=datetime.timezone.utc).isoformat()
    tmp = output + ".tmp"
    with zipfile.ZipFile(tmp, "w") as zf:
        add(zf, "manifest.yaml", MANIFEST.format(started=started))
        for rel in ("metadata.yaml", "config.yaml", "README.md"):
            add(zf, rel, read(rel))
        if os.path.exists(os.path.join(ROOT, "actions.yaml")):
            add(zf, "actions.yaml", read("actions.yaml"))
        add(zf, "dispatch", read("dispatch"), executable=True)
        for name in sorted(os.listdir(os.path.join(ROOT, "hooks"))):
            add(zf, "hooks/" + name, read("hooks/" + name), executable=True)
        for name in sorted(os.listdir(os.path.join(ROOT, "templates"))):
            if name.startswith("."):
                continue
            add(zf, "templates/" + name, read("templates/" + name))
        with open(binary, "rb") as f:
            add(zf, "bin/keepalived-charm", f.read(), executable=True)
    os.replace(tmp, output)
    print(f"wrote {output} ({os.path.getsize(output)} bytes)")


if __name__ == "__main__":
    main()
