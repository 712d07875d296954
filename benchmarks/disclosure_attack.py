"""How often does a differencing attack pin a count shown "fewer than k"? The pin rate over many seeds.

For each seed: a fresh SQLite database with the seeded partnership of tests/disclosure/seeded.py (Bristol, wards of
LSOAs, ten member organisations, observations spread thinly so that most LSOA cells hold 1 to 4), every area page
(authority, wards, LSOAs) in every period read as HTML by a resident (public), a convenor (partnership) and a funder
(funders), and the integer-program attack of tests/disclosure/attack.py solved over everything each one read. Prints,
per seed and role, the hidden cells and how many were pinned, with the perturbation table in force and (``--zeros``)
with a table of zeros (a threshold alone), then the pin rates and the load average. The test suite runs one seed
(tests/disclosure/test_attack.py); the seeds here start elsewhere.

    .venv/bin/python benchmarks/disclosure_attack.py [--seeds 20] [--first 1000] [--observations 700] [--zeros]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

# Run as a script, this folder comes first on the path: put the repository first (tests/ is imported too).
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ROLES = {"resident": "public", "convenor": "partnership", "funder": "funders"}


def one_seed(seed: int, observations: int, zeros: bool) -> dict[str, tuple[int, int]]:
    """``{role: (hidden cells, pinned)}`` for one seed."""

    from tests.conftest import IsolatedClient, app_config, sign_in
    from tests.disclosure import attack, scrape
    from tests.disclosure.seeded import seed_partnership
    from webapp import create_app
    from webapp import operations as webapp_ops
    from webapp import ptable as ptables
    from webapp.disclosure import max_perturbation, threshold
    from webapp.extensions import db
    from webapp.models import OrgKind, OrgRole, PlatformRole

    instance = tempfile.mkdtemp(prefix="commintel-attack-")
    app = create_app(app_config(f"sqlite:///{instance}/attack.db", instance))
    app.test_client_class = IsolatedClient
    if zeros:
        app.config["COMMINTEL_PTABLE_TABLE"] = ptables.without_perturbation(ptables.load(ptables.SHIPPED))
    password = "benchmark password 2026"  # noqa: S105 - a throwaway database
    out = {}
    with app.app_context():
        db.create_all()
        org = webapp_ops.create_organisation("Lawrence Hill Food Share", OrgKind.CHARITY)
        other = webapp_ops.create_organisation("Hartcliffe Mutual Aid", OrgKind.MUTUAL_AID)
        funder_org = webapp_ops.create_organisation("Avon Fund", OrgKind.FUNDER)
        users = {
            "resident": webapp_ops.create_user("resident@example.org", password, "Resident",
                                               platform_role=PlatformRole.RESIDENT),
            "convenor": webapp_ops.create_user("convenor@example.org", password, "Convenor",
                                               platform_role=PlatformRole.CONVENOR),
            "funder": webapp_ops.create_user("funder@example.org", password, "Funder",
                                             platform_role=PlatformRole.FUNDER, organisation=funder_org,
                                             org_role=OrgRole.MEMBER),
            "admin": webapp_ops.create_user("admin@example.org", password, "Admin", platform_role=PlatformRole.ADMIN),
        }  # fmt: skip
        partnership = webapp_ops.create_partnership(
            "Test Partnership", "test-partnership", members=[org], funders=[funder_org], convenors=[users["convenor"]]
        )
        db.session.commit()
        world = {"org": org, "other_org": other, "users": users, "partnership": partnership}
        seed_partnership(world, seed, observations=observations)
        k, d = threshold(), max_perturbation()
        for role, audience in ROLES.items():
            scraped = scrape.World.load(db.session.connection(), partnership.slug)
            client = sign_in(app.test_client(), users[role], password)
            reader = scrape.Reader(scraped, client, audience, k)
            areas = sorted({scraped.lad(), *scraped.wards(), *(a for a, v in scraped.areas.items() if v[1] == "lsoa")})
            for area in areas:
                for window in scrape.WINDOWS:
                    reader.area_page(area, window)
            dims, cells, truth = reader.finish()
            attack.check_truthful(cells, k, d)
            attack.check_consistency(cells)
            result = attack.attack(dims, cells, truth, k, d)
            # A cell neither freed nor proved pinned within the attack's time limit counts against the release, as
            # in the tests; it is printed apart so that a slow solve is not mistaken for a pinned cell.
            out[role] = (result.hidden, len(result.pinned) + len(result.undecided))
            if result.undecided:
                print(f"  seed {seed}, {role}: {len(result.undecided)} hidden cells undecided at the time limit")
        db.session.remove()
        db.engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first", type=int, default=1000, help="the first seed (the test suite uses 20261201)")
    parser.add_argument("--observations", type=int, default=700)
    parser.add_argument("--zeros", action="store_true", help="also attack a release with a perturbation table of 0s")
    args = parser.parse_args()

    import logging

    logging.disable(logging.WARNING)
    started = time.monotonic()
    tables = [("shipped perturbation table", False)] + ([("perturbation table of zeros", True)] if args.zeros else [])
    for label, zeros in tables:
        totals = {role: [0, 0] for role in ROLES}
        seeds_with_pins = 0
        for seed in range(args.first, args.first + args.seeds):
            result = one_seed(seed, args.observations, zeros)
            line = ", ".join(f"{role} {p}/{h}" for role, (h, p) in result.items())
            print(f"{label}, seed {seed}: pinned/hidden {line}", flush=True)
            seeds_with_pins += any(p for _, p in result.values())
            for role, (h, p) in result.items():
                totals[role][0] += h
                totals[role][1] += p
        print(f"\n{label}: {args.seeds} seeds, {args.observations} observations each")
        for role, (h, p) in totals.items():
            rate = p / h if h else 0.0
            print(f"  {role:9} ({ROLES[role]}): {p} of {h} hidden cells pinned, pin rate {rate:.4%}")
        print(f"  seeds with any cell pinned: {seeds_with_pins} of {args.seeds}\n")
    print(f"{time.monotonic() - started:.0f} s; load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
