#!/usr/bin/env python3
"""Interop peer: wraps the Python SD-JWT reference implementation (PyPI `sd-jwt`,
openwallet-foundation-labs/sd-jwt-python) behind the JSON-over-stdio contract
described in tests/interop/README.md.

Invocation (after tests/interop/install.sh):

    tests/interop/python/.venv/bin/python tests/interop/python/sdjwt_peer.py issue  < in.json
    tests/interop/python/.venv/bin/python tests/interop/python/sdjwt_peer.py verify < in.json

Reads ONE JSON object from stdin, writes ONE JSON object to stdout (UTF-8).
Exit 0 on success; exit 1 with {"error": "..."} on any failure.

The functions below are also imported by benches/peers/bench_python.py.
"""

import json
import sys

from jwcrypto.jwk import JWK
from sd_jwt.common import SDObj
from sd_jwt.holder import SDJWTHolder
from sd_jwt.issuer import SDJWTIssuer
from sd_jwt.verifier import SDJWTVerifier

try:
    from importlib.metadata import version as _pkg_version

    LIB_VERSION = _pkg_version("sd-jwt")
except Exception:  # pragma: no cover
    LIB_VERSION = "unknown"

# Members of a JWK that are private key material (never copied into cnf.jwk).
_PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def alg_for_jwk(jwk: dict) -> str:
    """Signature algorithm implied by the key (never taken from elsewhere)."""
    kty, crv = jwk.get("kty"), jwk.get("crv")
    if kty == "EC" and crv == "P-256":
        return "ES256"
    if kty == "OKP" and crv == "Ed25519":
        return "EdDSA"
    raise ValueError(f"unsupported key: kty={kty!r} crv={crv!r} (need EC P-256 or OKP Ed25519)")


def public_jwk(jwk: dict) -> dict:
    return {k: v for k, v in jwk.items() if k not in _PRIVATE_MEMBERS}


def load_key(jwk: dict) -> JWK:
    return JWK(**jwk)


def sd_wrap(value):
    """Mark a claim value recursively selectively disclosable: every object
    member and every array element becomes its own disclosure."""
    if isinstance(value, dict):
        return {SDObj(k): sd_wrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [SDObj(sd_wrap(v)) for v in value]
    return value


def _full_frame(value):
    """Presentation frame disclosing a value and everything nested inside it."""
    # (an empty frame is falsy for the library, so empty containers use True)
    if isinstance(value, dict) and value:
        return {k: _full_frame(v) for k, v in value.items()}
    if isinstance(value, list) and value:
        return [_full_frame(v) for v in value]
    return True


def presentation_frame(claims: dict, disclose) -> dict:
    """The library's `claims_to_disclose` for the top-level names in `disclose`
    (each disclosed with all its nested members)."""
    return {name: _full_frame(claims[name]) for name in disclose if name in claims}


def issue(issuer_key: JWK, issuer_alg: str, holder_key: JWK, inp: dict) -> str:
    """Issue an SD-JWT (all disclosures, no KB, ends with '~')."""
    user_claims = {
        "iss": inp["iss"],
        "vct": inp["vct"],
        "iat": inp["iat"],
        "exp": inp["exp"],
    }
    for name, value in inp["claims"].items():
        if name in user_claims or name in ("cnf", "_sd", "_sd_alg"):
            raise ValueError(f"claim {name!r} cannot be selectively disclosable")
        user_claims[SDObj(name)] = sd_wrap(value)
    header = {"typ": inp.get("typ", "dc+sd-jwt")}
    kid = inp["issuer_jwk"].get("kid") if isinstance(inp.get("issuer_jwk"), dict) else None
    if kid:
        header["kid"] = kid
    issuer = SDJWTIssuer(
        user_claims,
        issuer_key,
        holder_key=holder_key,  # -> cnf.jwk (public part)
        sign_alg=issuer_alg,
        extra_header_parameters=header,
    )
    return issuer.sd_jwt_issuance


def present(sd_jwt: str, frame: dict, aud: str, nonce: str, holder_key: JWK) -> str:
    """SD-JWT+KB disclosing `frame`; KB-JWT iat is set by the library (now)."""
    holder = SDJWTHolder(sd_jwt)
    # The library signs the KB-JWT with ES256 unless told otherwise; its
    # verifier only accepts ES256 KB-JWTs, so holder keys must be P-256.
    holder.create_presentation(frame, nonce=nonce, aud=aud, holder_key=holder_key, sign_alg="ES256")
    return holder.sd_jwt_presentation


def verify(presentation: str, issuer_key: JWK, aud: str, nonce: str) -> dict:
    """Issuer signature + disclosures + KB-JWT (aud, nonce, sd_hash) via the
    library's own SDJWTVerifier. Returns the processed claims."""
    if not aud or not nonce:
        raise ValueError("aud and nonce are required (key binding is mandatory)")
    if presentation.endswith("~"):
        # the library would fail too, but with an opaque "Invalid JWS Object"
        raise ValueError("Key Binding JWT missing (presentation ends with '~')")
    verifier = SDJWTVerifier(
        presentation,
        lambda _iss, _header: issuer_key,
        expected_aud=aud,
        expected_nonce=nonce,
    )
    return verifier.get_verified_payload()


def _cmd_issue(inp: dict) -> dict:
    issuer_jwk = inp["issuer_jwk"]
    holder_jwk = inp["holder_jwk"]
    alg_for_jwk(holder_jwk)
    issuer_key = load_key(issuer_jwk)
    holder_key = load_key(holder_jwk)
    sd_jwt = issue(issuer_key, alg_for_jwk(issuer_jwk), holder_key, inp)
    frame = presentation_frame(inp["claims"], inp.get("disclose", []))
    presentation = present(sd_jwt, frame, inp["aud"], inp["nonce"], holder_key)
    return {"sd_jwt": sd_jwt, "presentation": presentation}


def _cmd_verify(inp: dict) -> dict:
    issuer_jwk = public_jwk(inp["issuer_jwk"])
    alg_for_jwk(issuer_jwk)
    claims = verify(inp["presentation"], load_key(issuer_jwk), inp.get("aud"), inp.get("nonce"))
    return {"claims": claims}


def _write(obj: dict) -> None:
    sys.stdout.buffer.write(json.dumps(obj, ensure_ascii=False).encode("utf-8") + b"\n")
    sys.stdout.buffer.flush()


def main(argv) -> int:
    if len(argv) != 2 or argv[1] not in ("issue", "verify"):
        _write({"error": "usage: sdjwt_peer.py issue|verify  (JSON on stdin)"})
        return 2
    try:
        inp = json.loads(sys.stdin.buffer.read().decode("utf-8"))
        if not isinstance(inp, dict):
            raise ValueError("input must be a JSON object")
        out = _cmd_issue(inp) if argv[1] == "issue" else _cmd_verify(inp)
    except Exception as e:  # noqa: BLE001 - every failure is reported, not raised
        _write({"error": f"{type(e).__name__}: {e}"})
        return 1
    _write(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
