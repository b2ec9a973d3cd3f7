#!/usr/bin/env bash
# Self-check of the two interop peers against EACH OTHER (no Rust involved):
# Python issues -> Node verifies, Node issues -> Python verifies (ES256, plus
# EdDSA issuer keys), Cyrillic values byte-exact, a nested object claim, and
# tampered / wrong-nonce / wrong-aud / KB-less presentations that must fail.
#   bash tests/interop/selfcheck.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$here/install.sh"
cd "$here"
exec python/.venv/bin/python - <<'PY'
import base64, json, subprocess, sys, time
from jwcrypto.jwk import JWK

PEERS = {
    "python": ["python/.venv/bin/python", "python/sdjwt_peer.py"],
    "node": ["node", "node/sdjwt_peer.mjs"],
}

def run(peer, cmd, inp):
    p = subprocess.run(PEERS[peer] + [cmd], input=json.dumps(inp, ensure_ascii=False).encode("utf-8"),
                       capture_output=True, timeout=60)
    try:
        out = json.loads(p.stdout.decode("utf-8"))
    except Exception:
        raise SystemExit(f"{peer} {cmd}: non-JSON stdout {p.stdout!r}, stderr {p.stderr.decode(errors='replace')}")
    return p.returncode, out

def key(kty, crv):
    return json.loads(JWK.generate(kty=kty, crv=crv).export_private())

def pub(jwk):
    return {k: v for k, v in jwk.items() if k != "d"}

def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))

passed = failed = 0
def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name} {detail}")

CLAIMS = {
    "family_name": "Иванова-Петрова",
    "given_name": "Мария",
    "birthdate": "1990-03-14",
    "document_number": "4510 123456",
    "address": {"locality": "г. Казань", "street_address": "ул. Баумана, 1"},
    "nationalities": ["RUS"],
}
DISCLOSE = ["family_name", "given_name", "address"]
holder = key("EC", "P-256")
now = int(time.time())

for issuer_kind in (("EC", "P-256"), ("OKP", "Ed25519")):
    issuer = key(*issuer_kind)
    alg = "ES256" if issuer_kind[0] == "EC" else "EdDSA"
    for src, dst in (("python", "node"), ("node", "python"), ("python", "python"), ("node", "node")):
        tag = f"{alg} {src}->{dst}"
        aud, nonce = "https://verifier.example", f"n-{src}-{dst}-{alg}"
        rc, iss = run(src, "issue", {
            "issuer_jwk": issuer, "holder_jwk": holder, "iss": "https://issuer.example",
            "vct": "urn:ru:digital-id:passport:1", "typ": "dc+sd-jwt", "iat": now, "exp": now + 3600,
            "claims": CLAIMS, "disclose": DISCLOSE, "aud": aud, "nonce": nonce})
        if rc != 0:
            check(f"{tag} issue", False, iss)
            continue
        sd_jwt, pres = iss["sd_jwt"], iss["presentation"]
        hdr = json.loads(b64d(sd_jwt.split(".")[0]))
        body = json.loads(b64d(sd_jwt.split("~")[0].split(".")[1]))
        check(f"{tag} issued header", hdr.get("typ") == "dc+sd-jwt" and hdr.get("alg") == alg, hdr)
        check(f"{tag} issued payload clear claims",
              body.get("iss") == "https://issuer.example" and body.get("vct") == "urn:ru:digital-id:passport:1"
              and body.get("iat") == now and body.get("exp") == now + 3600 and body.get("_sd_alg") == "sha-256"
              and body.get("cnf") == {"jwk": pub(holder)} and not any(c in body for c in CLAIMS), body)
        check(f"{tag} sd_jwt ends with ~ (no KB)", sd_jwt.endswith("~"))
        # 6 top-level + 2 address members + 1 nationalities element, each its own disclosure
        check(f"{tag} nested members are own disclosures", len(sd_jwt.split("~")) - 2 == 9, len(sd_jwt.split("~")) - 2)
        kb = pres.split("~")[-1]
        kbh, kbp = (json.loads(b64d(x)) for x in kb.split(".")[:2])
        check(f"{tag} KB-JWT shape", kbh.get("typ") == "kb+jwt" and kbh.get("alg") == "ES256"
              and kbp.get("aud") == aud and kbp.get("nonce") == nonce and abs(kbp.get("iat", 0) - time.time()) < 60
              and isinstance(kbp.get("sd_hash"), str), (kbh, kbp))

        vin = {"presentation": pres, "issuer_jwk": pub(issuer), "aud": aud, "nonce": nonce}
        rc, out = run(dst, "verify", vin)
        claims = out.get("claims", {})
        check(f"{tag} verify ok", rc == 0, out)
        check(f"{tag} disclosed claims byte-exact",
              claims.get("family_name") == "Иванова-Петрова" and claims.get("given_name") == "Мария"
              and claims.get("address") == CLAIMS["address"], claims)
        check(f"{tag} undisclosed claims absent",
              not any(k in claims for k in ("birthdate", "document_number", "nationalities", "_sd", "_sd_alg")), claims)
        check(f"{tag} clear claims present", claims.get("iss") == "https://issuer.example"
              and claims.get("cnf") == {"jwk": pub(holder)}, claims)

        jwt, *discs, kbjwt = pres.split("~")
        # swap the family_name disclosure for a forged one with the same salt
        forged = []
        for d in discs:
            arr = json.loads(b64d(d))
            if len(arr) == 3 and arr[1] == "family_name":
                arr[2] = "Петрова"
                d = base64.urlsafe_b64encode(json.dumps(arr, ensure_ascii=False).encode()).decode().rstrip("=")
            forged.append(d)
        sig = jwt.rsplit(".", 1)
        bad_sig = sig[0] + "." + ("A" if sig[1][0] != "A" else "B") + sig[1][1:]
        bad_kb = kbjwt.rsplit(".", 1)[0] + "." + kbjwt.rsplit(".", 1)[1][::-1]
        cases = {
            "tampered disclosure": "~".join([jwt, *forged, kbjwt]),
            "tampered issuer signature": "~".join([bad_sig, *discs, kbjwt]),
            "tampered KB signature": "~".join([jwt, *discs, bad_kb]),
            "disclosure dropped (sd_hash)": "~".join([jwt, *discs[1:], kbjwt]),
            "no KB-JWT": "~".join([jwt, *discs, ""]),
        }
        for what, bad in cases.items():
            rc, out = run(dst, "verify", dict(vin, presentation=bad))
            check(f"{tag} rejects {what}", rc == 1 and "error" in out, out)
        rc, out = run(dst, "verify", dict(vin, nonce="other"))
        check(f"{tag} rejects wrong nonce", rc == 1 and "error" in out, out)
        rc, out = run(dst, "verify", dict(vin, aud="https://other.example"))
        check(f"{tag} rejects wrong aud", rc == 1 and "error" in out, out)
        rc, out = run(dst, "verify", dict(vin, issuer_jwk=pub(key(*issuer_kind))))
        check(f"{tag} rejects other issuer key", rc == 1 and "error" in out, out)

print(f"selfcheck: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
