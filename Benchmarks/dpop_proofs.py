"""Writes DPoP proofs for the benchmark: `dpop_proofs.py KEYFILE COUNT URL TOKEN > proofs`, or
`dpop_proofs.py KEYFILE --token-proof URL` for the one proof of the token request. The key (a
P-256 JWK, private) is created in KEYFILE when missing. Proofs are ES256, made with joserfc."""
import base64
import hashlib
import json
import os
import sys
import time
import uuid

from joserfc import jwt
from joserfc.jwk import ECKey


def load_key(path):
    if os.path.exists(path):
        with open(path) as f:
            return ECKey.import_key(json.load(f))
    key = ECKey.generate_key("P-256")
    with open(path, "w") as f:
        json.dump(key.as_dict(private=True), f)
    return key


def proof(key, method, url, token=None):
    claims = {"jti": uuid.uuid4().hex, "htm": method, "htu": url, "iat": int(time.time()) + 5}
    if token:
        claims["ath"] = base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()).rstrip(b"=").decode()
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.as_dict(private=False)}
    return jwt.encode(header, claims, key, algorithms=["ES256"])


if __name__ == "__main__":
    key = load_key(sys.argv[1])
    if sys.argv[2] == "--token-proof":
        print(proof(key, "POST", sys.argv[3]))
    else:
        count, url, token = int(sys.argv[2]), sys.argv[3], sys.argv[4]
        out = sys.stdout
        for _ in range(count):
            out.write(proof(key, "GET", url, token) + "\n")
