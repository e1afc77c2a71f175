"""Checks a DSSE envelope written by Gantry with securesystemslib.

Usage: check_dsse.py ENVELOPE PUBLIC_KEY [--in-toto]

PUBLIC_KEY is written as Gantry writes it, `ed25519:<base64 of 32 bytes>`,
or is a file holding that text (as `gantry keygen` writes FILE.pub).
The key id is derived here, independently, as the lowercase hex sha256 of
the 32 public-key bytes; securesystemslib only tries keys whose id matches
the signature's, so a wrong key id fails too.

With --in-toto, the payload must be an in-toto Statement v1 with a SLSA
provenance v1 predicate: subjects with sha256 digests, and the predicate's
buildDefinition and runDetails fields.

Prints "ok: ..." and exits 0, or prints what is wrong and exits 1.
"""

import base64
import hashlib
import json
import sys

from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import VerificationError
from securesystemslib.signer import SSlibKey

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"


def fail(message):
    print(f"FAIL: {message}")
    sys.exit(1)


def public_key(text):
    prefix = "ed25519:"
    if not text.startswith(prefix):
        fail(f"public key {text!r} does not start with {prefix!r}")
    raw = base64.b64decode(text[len(prefix):], validate=True)
    if len(raw) != 32:
        fail(f"public key is {len(raw)} bytes, not 32")
    keyid = hashlib.sha256(raw).hexdigest()
    return SSlibKey(keyid, "ed25519", "ed25519", {"public": raw.hex()})


def check_statement(statement):
    if statement.get("_type") != STATEMENT_TYPE:
        fail(f"_type is {statement.get('_type')!r}")
    if statement.get("predicateType") != PREDICATE_TYPE:
        fail(f"predicateType is {statement.get('predicateType')!r}")
    subjects = statement.get("subject")
    if not isinstance(subjects, list) or not subjects:
        fail("subject is not a non-empty list")
    for subject in subjects:
        digest = subject.get("digest", {}).get("sha256", "")
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            fail(f"subject {subject.get('name')!r} has no sha256 digest")
    predicate = statement.get("predicate", {})
    build = predicate.get("buildDefinition", {})
    for key in ("buildType", "externalParameters", "internalParameters",
                "resolvedDependencies"):
        if key not in build:
            fail(f"buildDefinition has no {key!r}")
    details = predicate.get("runDetails", {})
    if not details.get("builder", {}).get("id"):
        fail("runDetails.builder.id is missing")
    for key in ("invocationId", "startedOn", "finishedOn"):
        if not details.get("metadata", {}).get(key):
            fail(f"runDetails.metadata has no {key!r}")
    return subjects


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 2:
        fail("usage: check_dsse.py ENVELOPE PUBLIC_KEY [--in-toto]")
    with open(args[0], "rb") as handle:
        envelope = Envelope.from_dict(json.load(handle))
    key_text = args[1]
    if not key_text.startswith("ed25519:"):
        with open(key_text, encoding="utf-8") as handle:
            key_text = handle.read()
    key = public_key(key_text.strip())
    try:
        envelope.verify([key], 1)
    except VerificationError as error:
        fail(f"signature does not verify: {error}")
    summary = f"signed by {key.keyid}, payload type {envelope.payload_type}"
    if "--in-toto" in sys.argv:
        if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE:
            fail(f"payload type is {envelope.payload_type!r}")
        subjects = check_statement(json.loads(envelope.payload))
        names = ", ".join(s.get("name", "?") for s in subjects)
        summary += f", in-toto statement about {names}"
    print(f"ok: {summary}")


if __name__ == "__main__":
    main()
