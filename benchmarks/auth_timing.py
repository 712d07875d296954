"""Does a request tell whether an account exists by how long it takes? Medians of interleaved requests.

Forgot-password for a known and an unknown address, an organisation invitation to an existing and a new address,
and a failed sign-in for a known and an unknown address; each pair is sent ``--rounds`` times, interleaved, from new
clients, against the real app on a fresh SQLite database with production-cost argon2id and the queue not run inline
(as in production: the reset is done by the worker). Prints the medians, the median paired difference and the load.

    .venv/bin/python benchmarks/auth_timing.py [--rounds 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

# Run as a script, this folder comes first on the path, and benchmarks/indicators.py would shadow the package.
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()

    import logging

    from tests.conftest import IsolatedClient, app_config
    from webapp import create_app
    from webapp import operations as webapp_ops
    from webapp.extensions import db
    from webapp.models import OrgRole, PlatformRole

    logging.getLogger("webapp.mail").setLevel(logging.ERROR)  # one line per invitation otherwise
    instance = tempfile.mkdtemp(prefix="commintel-auth-timing-")
    # Background work queued, not run in the request (as served): the timing is what a visitor waits for.
    app = create_app(
        app_config(
            f"sqlite:///{instance}/timing.db",
            instance,
            CELERY_TASK_ALWAYS_EAGER=False,
            CELERY_BROKER_URL="memory://",
            CELERY_RESULT_BACKEND="cache+memory://",
            TESTING=False,
        )
    )
    app.test_client_class = IsolatedClient
    password = "correct horse battery"  # noqa: S105 - a benchmark account's password
    with app.app_context():
        db.create_all()
        org = webapp_ops.create_organisation("Timing Org", "charity")
        admin = webapp_ops.create_user(
            "oa@example.org", password, "Org Admin", organisation=org, org_role=OrgRole.ADMIN
        )
        webapp_ops.create_user("known@example.org", password, "Known", platform_role=PlatformRole.RESIDENT)
        # People with accounts to invite, each once (inviting one address again ends its earlier invitation, which
        # is work a first invitation does not do, whether or not the address has an account). They never sign in,
        # so their hashes are made cheaply.
        from argon2 import PasswordHasher

        import webapp.models as models

        production_hasher = models._hasher
        models._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
        for i in range(args.rounds + 5):
            webapp_ops.create_user(f"exists{i}@example.org", password, f"Exists {i}")
        models._hasher = production_hasher
        db.session.commit()
        existing = iter(range(10**9))
        inviter = app.test_client()
        inviter.post("/auth/login", data={"email": admin.email, "password": password})
        counter = iter(range(10**9))

        def forgot(email: str):
            return lambda: app.test_client().post("/auth/forgot", data={"email": email})

        def invite(email_of):
            def send():
                response = inviter.post(f"/orgs/{org.slug}/invite", data={"email": email_of(), "role": "member"})
                inviter.get(response.headers["Location"])

            return send

        def failed_sign_in(email: str):
            return lambda: app.test_client().post("/auth/login", data={"email": email, "password": "not the password"})

        # A failed sign-in verifies one argon2id hash at production cost (tens of ms), so it gets fewer rounds.
        cases = [
            ("forgot password", forgot("known@example.org"), forgot("nobody@example.org"), args.rounds),
            (
                "organisation invitation",
                invite(lambda: f"exists{next(existing)}@example.org"),
                invite(lambda: f"new{next(counter)}@example.org"),
                args.rounds,
            ),
            (
                "failed sign-in",
                failed_sign_in("known@example.org"),
                failed_sign_in("nobody@example.org"),
                max(10, args.rounds // 10),
            ),
        ]
        print(f"load average before: {os.getloadavg()}")
        for name, first, second, rounds in cases:
            for _ in range(5):
                first(), second()
            a, b = [], []
            for _ in range(rounds):
                for send, into in ((first, a), (second, b)):
                    started = time.perf_counter()
                    send()
                    into.append((time.perf_counter() - started) * 1000)
            diff = statistics.median(x - y for x, y in zip(a, b, strict=True))
            print(
                f"{name:<24} existing {statistics.median(a):7.2f} ms   absent {statistics.median(b):7.2f} ms   "
                f"median paired difference {diff:+6.2f} ms   ({rounds} pairs)"
            )
        print(f"load average after: {os.getloadavg()}")
        db.engine.dispose()


if __name__ == "__main__":
    main()
