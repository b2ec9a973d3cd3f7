#!/usr/bin/env python3
"""Peer benchmark: Python SD-JWT reference implementation (PyPI `sd-jwt`).

Run through benches/peers/run.sh (installs, pins to one core). Directly:
    taskset -c 0 tests/interop/python/.venv/bin/python benches/peers/bench_python.py

Operations on benches/peers/passport.json (12 claims, all selectively disclosable):
  issue   - issue the SD-JWT VC, ES256 issuer key, cnf.jwk = holder key
  present - holder presents 3 claims with a KB-JWT (ES256 holder key)
  verify  - verify that presentation incl. KB-JWT (aud, nonce, sd_hash)
Each op: warm-up, then repeated for BENCH_SECONDS (default 3) seconds.
"""

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "interop" / "python"))

from jwcrypto.jwk import JWK  # noqa: E402

import sdjwt_peer as peer  # noqa: E402

SECONDS = float(os.environ.get("BENCH_SECONDS", "3"))
WARMUP = float(os.environ.get("BENCH_WARMUP_SECONDS", "0.5"))


def rate(fn):
    end = time.perf_counter() + WARMUP
    while time.perf_counter() < end:
        fn()
    n = 0
    start = time.perf_counter()
    end = start + SECONDS
    while True:
        fn()
        n += 1
        now = time.perf_counter()
        if now >= end:
            return n / (now - start)


def main():
    fx = json.loads((Path(__file__).resolve().parent / "passport.json").read_text(encoding="utf-8"))
    issuer_key = JWK.generate(kty="EC", crv="P-256")
    holder_key = JWK.generate(kty="EC", crv="P-256")
    issuer_pub = JWK.from_json(issuer_key.export_public())
    now = int(time.time())
    inp = {
        "issuer_jwk": json.loads(issuer_key.export_private()),
        "iss": fx["iss"], "vct": fx["vct"], "typ": "dc+sd-jwt",
        "iat": now, "exp": now + 365 * 86400, "claims": fx["claims"],
    }
    aud, nonce = fx["aud"], fx["nonce"]
    frame = peer.presentation_frame(fx["claims"], fx["disclose"])

    sd_jwt = peer.issue(issuer_key, "ES256", holder_key, inp)
    assert len(sd_jwt.split("~")) - 2 == 12, "expected 12 disclosures"
    pres = peer.present(sd_jwt, frame, aud, nonce, holder_key)
    claims = peer.verify(pres, issuer_pub, aud, nonce)
    assert {k: claims.get(k) for k in fx["disclose"]} == {k: fx["claims"][k] for k in fx["disclose"]}
    assert not (set(fx["claims"]) - set(fx["disclose"])) & set(claims), "undisclosed claim leaked"

    label = f"python sd-jwt {peer.LIB_VERSION}"
    ops = {
        "issue": lambda: peer.issue(issuer_key, "ES256", holder_key, inp),
        "present": lambda: peer.present(sd_jwt, frame, aud, nonce, holder_key),
        "verify": lambda: peer.verify(pres, issuer_pub, aud, nonce),
    }
    only = sys.argv[1:] or list(ops)
    for name in only:
        print(f"{label}  {name:<7}  {rate(ops[name]):6.0f} ops/s", flush=True)


if __name__ == "__main__":
    main()
