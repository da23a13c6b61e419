"""In-process timing of the request list pages (no HTTP server): ``python benchmarks/profile_lists.py``.

Starts throw-away embedded MongoDB and Redis, seeds the demo data and loads PROFILE_SIZE
(10,000) provision requests with insert_many (benchmarks/bench_http.py's loader), then times
one page of 50 of ``GET /api/v1/provision-requests/`` (as DevOps: every request; and as a
developer: their own) and the portal's environments page (25 rows) through Django's test client:
ms per page, best of PROFILE_REPEAT (5) runs of PROFILE_NUMBER (20) pages. PROFILE_CPROFILE=1
also prints the top functions of a cProfile run of the DevOps API page."""

from __future__ import annotations

import cProfile
import os
import pstats
import sys
import tempfile
import timeit
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

from benchmarks import bench_http  # noqa: E402 (after the path)


def main() -> None:
    size = int(os.environ.get("PROFILE_SIZE", "10000"))
    repeat, number = int(os.environ.get("PROFILE_REPEAT", "5")), int(os.environ.get("PROFILE_NUMBER", "20"))
    from cryptography.fernet import Fernet

    os.environ.update(
        {
            "SECRET_KEY": "profile-lists-not-a-secret-" + "x" * 40,
            "SECRETS_KEYS": Fernet.generate_key().decode(),
            "DEBUG": "false",
            "SECURE_SSL_REDIRECT": "false",
            "LOG_LEVEL": "WARNING",
            "ALLOWED_HOSTS": "testserver,127.0.0.1",
            "MONGODB_NAME": f"cloudassist_profile_lists_{os.getpid()}",
            "CLOUDASSIST_ENV_FILE": os.devnull,
            "DJANGO_SETTINGS_MODULE": "cloudassist.settings",
            "SHARED_CLUSTER_KUBECONFIG_DATA": bench_http.PLACEHOLDER_KUBECONFIG,
        }
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    from cloudassist import embedded

    data_dir = Path(tempfile.mkdtemp(prefix="cloudassist-profile-lists-"))
    services, env = embedded.start_missing(data_dir=data_dir, mongodb_uri=None, redis_url=None, persist=False)
    os.environ.update(env)
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.test import Client

        call_command("migrate", verbosity=0)
        users = bench_http.seed_users()
        prototypes = bench_http.make_prototypes(users)
        bench_http.load_requests(size, users=users, prototypes=prototypes)
        api = "/api/v1/provision-requests/"
        reviewer = Client(HTTP_AUTHORIZATION=f"Token {users[bench_http.READER]['token']}")
        developer = Client(HTTP_AUTHORIZATION=f"Token {users[bench_http.PORTAL_USER]['token']}")
        portal = Client()
        portal.force_login(users[bench_http.PORTAL_USER]["user"])
        pages = {
            "API list, DevOps (page of 50)": lambda: reviewer.get(api),
            "API list, developer (page of 50)": lambda: developer.get(api),
            "portal environments (25 rows)": lambda: portal.get("/portal/environments/"),
        }
        print(f"{size:,} stored requests; ms per page, best of {repeat} x {number}")
        for name, get in pages.items():
            response = get()
            assert response.status_code == 200, (name, response.status_code)
            best = min(timeit.repeat(get, repeat=repeat, number=number)) / number
            print(f"  {name:<36} {1000 * best:7.2f} ms")
        if os.environ.get("PROFILE_CPROFILE"):
            profile = cProfile.Profile()
            profile.runcall(lambda: [reviewer.get(api) for _ in range(number)])
            pstats.Stats(profile).sort_stats("cumulative").print_stats(40)
            pstats.Stats(profile).sort_stats("tottime").print_stats(25)
    finally:
        services.stop()
        embedded.remove_data(data_dir)


if __name__ == "__main__":
    main()
